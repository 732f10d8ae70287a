"""Percentage of Correct Keypoints: PCK@alpha and PCKh@0.5 as DDP-safe torchmetrics.

A predicted joint is correct when it lies within ``alpha * normaliser`` of the truth:
the person's box size for PCK (Yang & Ramanan 2013), the head segment size for PCKh
(Andriluka et al. 2014, the MPII protocol the hourglass paper reports).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class PCK(Metric):
    """Fraction of labelled joints within ``alpha * normaliser`` of the truth.

    Args:
        alpha: threshold as a fraction of the normaliser (0.1 for PCK, 0.5 for PCKh).

    ``update(pred, target, normaliser)``: pred ``(B, K, >=2)`` (x, y, ...), target ``(B, K, 3)``
    (x, y, visibility; joints with visibility 0 are not counted), normaliser ``(B,)`` in the
    same pixels (samples with normaliser <= 0, i.e. unknown, are not counted). ``compute()``:
    the fraction (0 before any labelled joint). States are sums, so DDP reduces them exactly.
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, alpha: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha
        self.add_state("correct", default=torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0.0), dist_reduce_fx="sum")

    def update(self, pred: Tensor, target: Tensor, normaliser: Tensor) -> None:
        dist = (pred[..., :2] - target[..., :2]).norm(dim=-1)  # (B, K)
        valid = (target[..., 2] > 0) & (normaliser[:, None] > 0)  # (B, K)
        hit = dist <= self.alpha * normaliser[:, None]
        self.correct += (hit & valid).sum().to(self.correct.dtype)
        self.total += valid.sum().to(self.total.dtype)

    def compute(self) -> Tensor:
        return self.correct / self.total.clamp_min(1.0)


class PCKh(PCK):
    """PCK normalised by head segment size, at 0.5 by default (MPII's PCKh@0.5)."""

    def __init__(self, alpha: float = 0.5, **kwargs) -> None:
        super().__init__(alpha, **kwargs)
