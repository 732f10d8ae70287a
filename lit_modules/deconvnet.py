"""DeconvNet (Noh, Hong, Han 2015): the module around ``nets.segnet.DeconvNet``.

The idea: a mirrored "deconvolution network" — unpooling with the encoder's max-pool indices and
transposed convolutions — on top of VGG-16 and its fully connected fc6/fc7, decoding the object's
shape from the 1x1 fc7 code. Loss, metrics and media: ``SegmentationModule``.
"""

from __future__ import annotations

from typing import Any

from lit_modules.nets.segnet import DeconvNet
from lit_modules.segmentation import SegmentationModule


class DeconvNetModule(SegmentationModule):
    """DeconvNet semantic segmentation.

    Optimisation, loss and media arguments: ``SegmentationModule``'s.

    Args:
        num_classes: classes including background.
        width: first-stage channels (paper: 64).
        stages: encoder/decoder stages (paper: 5).
        fc_kernel: fc6's kernel, the side of the stride-32 map (paper: 7 at 224 px; 2 at 64 px).
        fc_dim: fc6/fc7 channels (paper: 4096).
    """

    method_label = "DeconvNet"

    def __init__(self, num_classes: int = 7, width: int = 16, stages: int = 5, fc_kernel: int = 2,
                 fc_dim: int = 256, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.net = DeconvNet(num_classes, width, stages, fc_kernel, fc_dim)
