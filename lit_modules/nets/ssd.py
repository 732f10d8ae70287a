"""SSD networks from torchvision's builders: the paper's SSD300 (VGG-16) and a CPU-sized multi-scale net.

``build_ssd`` returns a ``torchvision.models.detection.SSD``: a backbone giving an ordered dict of
feature maps of falling resolution, default boxes per map (``DefaultBoxGenerator``), one 3x3 conv
classification head and one regression head per map, hard-negative mining 3:1 and smooth-L1 box
loss (torchvision's ``SSD.compute_loss``: the paper's objective, Sec. 2.2).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from torch import Tensor, nn
from torchvision.models import vgg16
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.ssd import SSD, _vgg_extractor

from lit_modules.nets.det_backbones import SmallCNN, _conv, load_local
from lit_modules.nets.pretrained import load_pretrained

SSDBackbone = Literal["small", "vgg16"]


class SmallSSDFeatures(nn.Module):
    """SmallCNN (stride 8) and extra stride-2 stages: feature maps at strides 8, 16, 32, ... (SSD's extras).

    Args:
        width: first-stage channels of the small CNN.
        extra: extra stages after the stride-8 map (each halves the side).
    """

    def __init__(self, width: int = 16, extra: int = 3) -> None:
        super().__init__()
        self.body = SmallCNN(width, 8)
        c = self.body.out_channels
        self.extras = nn.ModuleList(nn.Sequential(_conv(c, c, 2), _conv(c, c, 1)) for _ in range(extra))
        self.out_channels = [c] * (extra + 1)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        x = self.body(x)  # (B, C, H/8, W/8)
        out = OrderedDict([("0", x)])
        for i, layer in enumerate(self.extras):
            x = layer(x)  # (B, C, H/2^(4+i), W/2^(4+i))
            out[str(i + 1)] = x
        return out


def build_ssd(num_classes: int, backbone: SSDBackbone = "vgg16", size: int = 300, width: int = 16,
              extra: int = 3, aspect_ratios: list[list[int]] | None = None, min_ratio: float = 0.2,
              max_ratio: float = 0.9, weights_backbone: str | None = None, trainable_layers: int = 4,
              image_mean: tuple[float, float, float] = (0.48235, 0.45882, 0.40784),
              image_std: tuple[float, float, float] = (1 / 255, 1 / 255, 1 / 255),
              score_thresh: float = 0.01, nms_thresh: float = 0.45, detections_per_img: int = 200) -> SSD:
    """An SSD detector with ``num_classes`` object classes (+ background).

    Args:
        backbone: "vgg16" (SSD300: conv4_3 L2-normed, fc6/fc7 dilated, 4 extras; torchvision's
            ``ssd300_vgg16`` anchors) or "small" (``SmallSSDFeatures``; anchors from ``min_ratio``,
            ``max_ratio`` and ``aspect_ratios``, the paper's linear scale rule).
        size: the square input side every image is resized to (SSD300: 300).
        weights_backbone: VGG-16 ImageNet weights (torchvision's ``IMAGENET1K_FEATURES`` is the one
            SSD's authors converted) or, for "small", a local state dict of the small CNN.
        trainable_layers: VGG-16 blocks left trainable from the top (torchvision: 4 of 5).
    """
    if backbone == "vgg16":
        net = vgg16()
        load_pretrained(net, "vgg16", weights_backbone, "model.init_args.weights_backbone")
        body = _vgg_extractor(net, False, trainable_layers if weights_backbone else 5)
        anchors = DefaultBoxGenerator([[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                      scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05],
                                      steps=[8, 16, 32, 64, 100, 300])
    else:
        body = SmallSSDFeatures(width, extra)
        load_local(body.body, weights_backbone, "backbone")
        anchors = DefaultBoxGenerator(aspect_ratios or [[2]] * (extra + 1), min_ratio, max_ratio)
    return SSD(body, anchors, (size, size), num_classes + 1, image_mean=list(image_mean), image_std=list(image_std),
               score_thresh=score_thresh, nms_thresh=nms_thresh, detections_per_img=detections_per_img)
