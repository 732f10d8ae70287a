"""SSD — Liu et al., "SSD: Single Shot MultiBox Detector" (ECCV 2016).

The idea: no proposal stage. Default boxes of several scales and aspect ratios tile feature maps
of falling resolution; from each map a 3x3 conv predicts, for every default box, class scores and
a box offset, so large objects are found on coarse maps and small ones on fine maps, in one pass.
Training matches each ground-truth box to its best default box and to every box with IoU > 0.5,
and keeps the hardest negatives at 3:1 (softmax loss + smooth L1, Sec. 2.2). The machinery is
torchvision's SSD; this file chooses the net (``nets/ssd.py``) and the paper's sizes.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_modules.detection import DetectionModule, map_metric
from lit_modules.nets.det_backbones import load_local
from lit_modules.nets.ssd import SSDBackbone, build_ssd
from lit_modules.ops.stages import Stopwatch


class SSDModule(DetectionModule):
    """SSD; defaults are SSD300 (VGG-16); the paper's recipe is in ``configs/ssd/voc07.yaml``.

    The optimisation arguments (lr ... media_images) are ``DetectionModule``'s, passed on by keyword.
    Losses: torchvision's ``bbox_regression`` and ``classification``, both divided by the matched boxes
    and summed (the paper's α = 1).

    Args:
        num_classes: object classes K (the net has K + 1 outputs, 0 = background).
        backbone: "vgg16" (SSD300) or "small" (CPU demo: a small CNN at stride 8 + extra stages).
        size: square input side (SSD300: 300; the demo: ShapesWorld's side, no resize).
        width: first-stage channels of the small backbone.
        extra: feature maps after the small backbone's stride-8 map.
        aspect_ratios: per feature map, the ratios besides 1 (each r adds r and 1/r), "small" only.
        min_ratio: default-box scale of the finest map (paper: 0.2), "small" only.
        max_ratio: default-box scale of the coarsest map (paper: 0.9), "small" only.
        weights_backbone: ImageNet weights of VGG-16 (``IMAGENET1K_FEATURES``, or a local file).
        weights: local checkpoint of the whole detector.
        image_mean: normalisation mean (RGB, [0, 1] scale).
        image_std: normalisation std.
        score_thresh: class-score threshold before NMS.
        nms_thresh: per-class NMS IoU (paper: 0.45).
        max_det: detections kept per image (paper: 200).
    """

    method_label = "SSD"

    def __init__(
        self,
        num_classes: int = 20,
        backbone: SSDBackbone = "vgg16",
        size: int = 300,
        width: int = 16,
        extra: int = 3,
        aspect_ratios: list[list[int]] | None = None,
        min_ratio: float = 0.2,
        max_ratio: float = 0.9,
        weights_backbone: str | None = None,
        weights: str | None = None,
        image_mean: tuple[float, float, float] = (0.48235, 0.45882, 0.40784),
        image_std: tuple[float, float, float] = (1 / 255, 1 / 255, 1 / 255),
        score_thresh: float = 0.01,
        nms_thresh: float = 0.45,
        max_det: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = build_ssd(num_classes, backbone, size, width, extra, aspect_ratios, min_ratio, max_ratio,
                             weights_backbone, image_mean=image_mean, image_std=image_std,
                             score_thresh=score_thresh, nms_thresh=nms_thresh, detections_per_img=max_det)
        load_local(self.net, weights, "detector")
        # mAP over all max_det detections an image (torchmetrics would keep only the 100 best, and warn)
        self.val_map, self.test_map = map_metric(self.masks, max_det), map_metric(self.masks, max_det)

    def detect_stages(self, images: list[Tensor]) -> tuple[list[dict[str, Tensor]], dict[str, float]]:
        """``forward`` in eval mode, timed: "features" (resize, normalise, backbone), "head" (heads, boxes, NMS)."""
        net, sw = self.net, Stopwatch()
        sizes = [tuple(i.shape[-2:]) for i in images]
        with sw("features"):
            batch, _ = net.transform(images)
            feats = list(net.backbone(batch.tensors).values())
        with sw("head"):
            out = net.head(feats)
            anchors = net.anchor_generator(batch, feats)
            dets = net.postprocess_detections(out, anchors, batch.image_sizes)
            dets = net.transform.postprocess(dets, batch.image_sizes, sizes)
        return dets, sw.seconds
