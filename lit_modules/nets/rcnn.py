"""Faster / Mask R-CNN assembled from torchvision's detection builders around a chosen backbone."""

from __future__ import annotations

from typing import Literal

from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

from lit_modules.nets.det_backbones import IMAGENET_MEAN, IMAGENET_STD, BackboneName, build_backbone
from lit_modules.ops.roi import roi_pooler


def build_rcnn(
    num_classes: int,
    *,
    masks: bool = False,
    backbone: BackboneName = "small",
    roi_op: Literal["align", "pool"] = "align",
    weights_backbone: str | None = None,
    width: int = 32,
    representation: int = 1024,
    min_size: int = 800,
    max_size: int = 1333,
    image_mean: tuple[float, float, float] = IMAGENET_MEAN,
    image_std: tuple[float, float, float] = IMAGENET_STD,
    rpn_post_nms_train: int = 2000,
    rpn_post_nms_test: int = 1000,
    box_batch_size: int = 512,
    mask_layers: int = 4,
) -> FasterRCNN:
    """A torchvision ``FasterRCNN`` (or ``MaskRCNN``) with K + 1 outputs (0 = background).

    Args:
        num_classes: object classes K.
        masks: build Mask R-CNN (adds the mask branch: RoI 14x14 -> FCN -> 28x28 per class).
        backbone: see ``det_backbones.build_backbone``.
        roi_op: "align" (RoIAlign) or "pool" (RoIPool) for the box and mask heads.
        weights_backbone: ImageNet weights for the backbone (torchvision weight name or local file).
        width: first-stage channels of the small backbone.
        representation: width of the two-FC box head (4096 in VGG-16's fc6/fc7, 1024 with FPN).
        min_size / max_size: torchvision's resize of the shorter / longer side.
        image_mean / image_std: normalisation applied inside (the data stays in [0, 1]).
        rpn_post_nms_train / rpn_post_nms_test: proposals kept per image.
        box_batch_size: RoIs sampled per image for the box head (paper: 128 with 4 images → 512).
        mask_layers: 3x3 conv layers in the mask head (4 in the paper's FPN head).

    I/O: torchvision's. Training mode: ``net(images, targets) -> dict of losses``; eval mode:
    ``net(images) -> list[dict(boxes (N, 4), labels (N,), scores (N,)[, masks (N, 1, H, W)])]``.
    """
    bb = build_backbone(backbone, weights_backbone, width)
    ch = bb.body.out_channels
    anchors = AnchorGenerator(bb.anchor_sizes, ((0.5, 1.0, 2.0),) * len(bb.anchor_sizes))
    kw = {
        "min_size": min_size, "max_size": max_size, "image_mean": list(image_mean), "image_std": list(image_std),
        "rpn_anchor_generator": anchors, "box_roi_pool": roi_pooler(roi_op, bb.featmap_names, 7),
        "box_head": TwoMLPHead(ch * 7 * 7, representation), "box_predictor": FastRCNNPredictor(representation, num_classes + 1),
        "rpn_post_nms_top_n_train": rpn_post_nms_train, "rpn_post_nms_top_n_test": rpn_post_nms_test,
        "rpn_pre_nms_top_n_train": 2 * rpn_post_nms_train, "rpn_pre_nms_top_n_test": rpn_post_nms_test,
        "box_batch_size_per_image": box_batch_size,
    }
    if not masks:
        return FasterRCNN(bb.body, **kw)
    layers = (min(256, ch),) * mask_layers
    return MaskRCNN(bb.body, mask_roi_pool=roi_pooler(roi_op, bb.featmap_names, 14),
                    mask_head=MaskRCNNHeads(ch, layers, 1),
                    mask_predictor=MaskRCNNPredictor(layers[-1], layers[-1], num_classes + 1), **kw)
