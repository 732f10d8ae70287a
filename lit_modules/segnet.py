"""SegNet (Badrinarayanan, Kendall, Cipolla 2017): the module around ``nets.segnet.SegNet``.

The idea: the decoder upsamples by unpooling with the encoder's max-pooling indices and keeps
no encoder feature map (U-Net's and FCN's skips keep whole maps) — less memory at inference for
some loss of boundary detail. Loss, metrics and media: ``SegmentationModule``.
"""

from __future__ import annotations

from typing import Any

from lit_modules.nets.segnet import SegNet
from lit_modules.segmentation import SegmentationModule


class SegNetModule(SegmentationModule):
    """SegNet semantic segmentation.

    Optimisation, loss and media arguments: ``SegmentationModule``'s.

    Args:
        num_classes: classes including background.
        width: first-stage channels (paper: 64, VGG-16's).
        stages: encoder/decoder stages (paper: 5).
    """

    method_label = "SegNet"

    def __init__(self, num_classes: int = 7, width: int = 16, stages: int = 5, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.net = SegNet(num_classes, width, stages)
