"""Fast R-CNN's net: torchvision's Faster R-CNN parts without the RPN — the proposals come from outside.

One conv pass over the (resized, normalised) image, RoIPool (``torchvision.ops.roi_pool``, 7x7) of
each proposal, two FC layers, then softmax over K + 1 and class-specific box deltas (torchvision's
``RoIHeads``: the sampling, the multi-task loss and the per-class NMS of the paper).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from torch import Tensor, nn
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from lit_modules.nets.det_backbones import BackboneName, build_backbone
from lit_modules.nets.svd import truncated_svd
from lit_modules.ops.roi import MultiScaleRoIPool


class FastRCNN(nn.Module):
    """``(images, proposals[, targets])`` -> losses (training) or torchvision-style detections (eval).

    Args:
        num_classes: K. backbone / weights_backbone / width: ``det_backbones.build_backbone``.
        representation: fc6/fc7 width (VGG-16: 4096).
        pool: RoIPool output side (paper, VGG-16: 7, its pool5's). fc6 sees ``channels x pool x pool``.
        min_size / max_size / image_mean / image_std: torchvision's resize and normalisation.
        rois_per_image: sampled RoIs per image (paper: 64, a quarter foreground at IoU >= 0.5).
        nms_iou / score_thresh / detections_per_img: test-time post-processing (paper NMS 0.3).
    """

    def __init__(self, num_classes: int, backbone: BackboneName = "vgg16", weights_backbone: str | None = None,
                 width: int = 32, representation: int = 4096, min_size: int = 600, max_size: int = 1000,
                 image_mean: tuple[float, ...] = (0.485, 0.456, 0.406), image_std: tuple[float, ...] = (0.229, 0.224, 0.225),
                 rois_per_image: int = 64, nms_iou: float = 0.3, score_thresh: float = 0.01,
                 detections_per_img: int = 100, pool: int = 7) -> None:
        super().__init__()
        bb = build_backbone(backbone, weights_backbone, width)
        self.transform = GeneralizedRCNNTransform(min_size, max_size, list(image_mean), list(image_std))
        self.backbone = bb.body
        ch = bb.body.out_channels
        self.roi_heads = RoIHeads(MultiScaleRoIPool(bb.featmap_names[:1], pool), TwoMLPHead(ch * pool * pool, representation),
                                  FastRCNNPredictor(representation, num_classes + 1), fg_iou_thresh=0.5,
                                  bg_iou_thresh=0.5, batch_size_per_image=rois_per_image, positive_fraction=0.25,
                                  bbox_reg_weights=None, score_thresh=score_thresh, nms_thresh=nms_iou,
                                  detections_per_img=detections_per_img)

    def prepare(self, images: list[Tensor], proposals: list[Tensor], targets: list[dict] | None = None):
        """Resize + normalise the images (and targets), and scale the proposals alike."""
        sizes = [tuple(i.shape[-2:]) for i in images]
        if targets is not None:
            targets = [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets]
        batch, targets = self.transform(images, targets)
        props = []
        for p, (h, w), (nh, nw) in zip(proposals, sizes, batch.image_sizes):
            props.append(p * p.new_tensor([nw / w, nh / h, nw / w, nh / h]))
        return batch, props, targets, sizes

    def features(self, batch) -> OrderedDict[str, Tensor]:
        return OrderedDict([("0", self.backbone(batch.tensors))])  # one conv pass per image: (B, C, H/8, W/8)

    def head(self, feats, props, batch, sizes, targets=None):
        dets, losses = self.roi_heads(feats, props, batch.image_sizes, targets)
        return losses if self.training else self.transform.postprocess(dets, batch.image_sizes, sizes)

    def forward(self, images: list[Tensor], proposals: list[Tensor], targets: list[dict] | None = None):
        batch, props, targets, sizes = self.prepare(images, proposals, targets)
        return self.head(self.features(batch), props, batch, sizes, targets)

    def compressed_box_head(self, k: int) -> nn.Module:
        """fc6 and fc7 each replaced by their rank-``k`` SVD (the paper's test-time speed-up)."""
        head = copy.deepcopy(self.roi_heads.box_head)
        head.fc6, head.fc7 = truncated_svd(head.fc6, k), truncated_svd(head.fc7, k)
        return head


def swap_box_head(net: FastRCNN, head: nn.Module):
    """Context manager: ``net``'s box head replaced by ``head`` inside the block."""
    class _Swap:
        def __enter__(self):
            self.old = net.roi_heads.box_head
            net.roi_heads._modules["box_head"] = head

        def __exit__(self, *exc):
            net.roi_heads._modules["box_head"] = self.old

    return _Swap()

