"""Boundary accuracy: pixel accuracy restricted to a band around the true class boundaries.

Region metrics (mIoU, Dice) are dominated by object interiors; the detail that U-Net's skip
connections restore shows at the edges, so the skip ablation reports this one too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric


def boundary_band(target: Tensor, width: int, ignore_index: int = 255) -> Tensor:
    """(B, H, W) bool: pixels within ``width`` px (Chebyshev) of a change of true class."""
    t = target.float().unsqueeze(1)  # (B, 1, H, W)
    k = 2 * width + 1
    hi = F.max_pool2d(t, k, stride=1, padding=width)
    lo = -F.max_pool2d(-t, k, stride=1, padding=width)
    return (hi != lo)[:, 0] & (target != ignore_index)


class BoundaryAccuracy(Metric):
    """Share of boundary-band pixels (``boundary_band``) whose predicted class is right.

    Args:
        width: half-width of the band in pixels.
        ignore_index: target value that never counts.

    ``update(preds, target)``: preds (B, H, W) class indices or (B, C, H, W) scores; target (B, H, W).
    """

    full_state_update = False

    def __init__(self, width: int = 2, ignore_index: int = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width, self.ignore_index = width, ignore_index
        self.add_state("correct", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        if preds.ndim == 4:
            preds = preds.argmax(1)
        band = boundary_band(target, self.width, self.ignore_index)
        self.correct += (preds == target)[band].sum()
        self.total += band.sum()

    def compute(self) -> Tensor:
        return self.correct / self.total.clamp(min=1)
