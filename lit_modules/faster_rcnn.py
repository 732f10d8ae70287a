"""Faster R-CNN — "Towards Real-Time Object Detection with Region Proposal Networks" (Ren 2015).

The idea: a region proposal network shares the detector's conv features, scores anchors of
several scales and aspect ratios at every position and regresses them to proposals; a Fast
R-CNN head pools each proposal's features (RoIPool in the paper, RoIAlign selectable), then
classifies it and refines its box. Both train jointly (the approximate joint training of the
paper's released code). The machinery is torchvision's; this file chooses the backbone, the
RoI op and the paper's sizes, and loads the backbone's ImageNet weights (``nets/pretrained.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

from torch import Tensor

from lit_modules.detection import DetectionModule
from lit_modules.nets.det_backbones import IMAGENET_MEAN, IMAGENET_STD, BackboneName, load_local
from lit_modules.nets.rcnn import build_rcnn
from lit_modules.ops.stages import Stopwatch


class FasterRCNNModule(DetectionModule):
    """Faster R-CNN; defaults are the paper's VGG-16 net; its recipe (SGD 1e-3, wd 5e-4) is the base's default.

    The optimisation arguments (lr ... media_images) are ``DetectionModule``'s, passed on by keyword.
    Losses: the RPN's objectness and box terms and the head's classifier and box terms, summed
    unweighted as in the paper (λ = 1).

    Args:
        num_classes: object classes K (the net has K + 1 outputs, 0 = background).
        backbone: "vgg16" (paper), "resnet50_fpn" / "resnet101_fpn" (reproductions), "small" (CPU demo).
        roi_op: "pool" (RoIPool, the paper) or "align" (RoIAlign, Mask R-CNN).
        weights: local checkpoint of the whole detector (torchvision or Lightning format).
        weights_backbone: ImageNet weights of the backbone: a torchvision weight name (``IMAGENET1K_V1``,
            fetched into torch.hub's cache when online) or a local state-dict file.
        width: first-stage channels of the small backbone.
        representation: box-head FC width (VGG-16 fc6/fc7: 4096).
        min_size: shorter image side after torchvision's resize (paper: 600).
        max_size: longer-side cap (paper: 1000).
        image_mean: normalisation mean (RGB, [0, 1] scale).
        image_std: normalisation std.
        rpn_post_nms_train: proposals per training image (paper: 2000).
        rpn_post_nms_test: proposals per test image (paper: 300).
        box_batch_size: sampled RoIs per image for the box head (paper: 128).
        mask_layers: 3x3 conv layers of the mask head, Mask R-CNN only (paper: 4 in the FPN head).
    """

    method_label = "Faster R-CNN"  # the report's Method column (experiments.method)

    def __init__(
        self,
        num_classes: int = 20,
        backbone: BackboneName = "vgg16",
        roi_op: Literal["align", "pool"] = "pool",
        weights: str | None = None,
        weights_backbone: str | None = None,
        width: int = 32,
        representation: int = 4096,
        min_size: int = 600,
        max_size: int = 1000,
        image_mean: tuple[float, float, float] = IMAGENET_MEAN,
        image_std: tuple[float, float, float] = IMAGENET_STD,
        rpn_post_nms_train: int = 2000,
        rpn_post_nms_test: int = 300,
        box_batch_size: int = 128,
        mask_layers: int = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = build_rcnn(num_classes, masks=self.masks, backbone=backbone, roi_op=roi_op,
                              weights_backbone=weights_backbone, width=width, representation=representation,
                              min_size=min_size, max_size=max_size, image_mean=image_mean, image_std=image_std,
                              rpn_post_nms_train=rpn_post_nms_train, rpn_post_nms_test=rpn_post_nms_test,
                              box_batch_size=box_batch_size, mask_layers=mask_layers)
        load_local(self.net, weights, "detector")

    def detect_stages(self, images: list[Tensor]) -> tuple[list[dict[str, Tensor]], dict[str, float]]:
        """``forward`` in eval mode, timed: "features" (resize, normalise, backbone), "proposals" (the RPN),
        "head" (RoI pooling, box head, per-class NMS, masks)."""
        net, sw = self.net, Stopwatch()
        sizes = [tuple(i.shape[-2:]) for i in images]
        with sw("features"):
            batch, _ = net.transform(images)
            feats = net.backbone(batch.tensors)
            feats = OrderedDict([("0", feats)]) if isinstance(feats, Tensor) else feats
        with sw("proposals"):
            proposals, _ = net.rpn(batch, feats)
        with sw("head"):
            dets, _ = net.roi_heads(feats, proposals, batch.image_sizes)
            dets = net.transform.postprocess(dets, batch.image_sizes, sizes)
        return dets, sw.seconds
