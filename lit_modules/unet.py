"""U-Net semantic segmentation (Ronneberger et al. 2015): the module around ``nets.unet.UNet``.

Loss, metrics and media: ``lit_modules.segmentation.SegmentationModule`` (cross-entropy, the
paper's weighted soft-max loss without the border weight map, plus ``dice_weight`` x soft Dice).
"""

from __future__ import annotations

from typing import Any, Literal

from lit_modules.nets.unet import UNet
from lit_modules.segmentation import IGNORE, SegmentationModule, seg_metrics

__all__ = ["IGNORE", "UNetModule", "seg_metrics"]


class UNetModule(SegmentationModule):
    """Semantic segmentation with a U-Net.

    Optimisation, loss and media arguments: ``SegmentationModule``'s (paper: SGD, momentum 0.99, batch 1).

    Args:
        num_classes: classes including background (must match the data).
        depth: down-samplings (paper: 4).
        width: first-level channels (paper: 64).
        up: "transpose" (paper) or "bilinear" up-sampling.
        skips: encoder-decoder skip connections (False: the ablation).
        batch_norm: batch norm after each conv.
    """

    method_label = "U-Net"  # the report's Method column (experiments.method)

    def __init__(
        self,
        num_classes: int = 7,
        depth: int = 4,
        width: int = 64,
        up: Literal["transpose", "bilinear"] = "transpose",
        skips: bool = True,
        batch_norm: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.net = UNet(num_classes, 3, depth, width, up, skips, batch_norm)
