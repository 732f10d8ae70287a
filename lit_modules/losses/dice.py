"""Soft Dice loss (Milletari et al. 2016, V-Net), the usual companion of cross-entropy for U-Nets."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def dice_loss(logits: Tensor, target: Tensor, ignore_index: int = 255, eps: float = 1.0) -> Tensor:
    """1 - mean over classes of the soft Dice coefficient 2|P∩T| / (|P| + |T|).

    Args:
        logits: (B, C, H, W) class scores.
        target: (B, H, W) int64 class indices; ``ignore_index`` pixels do not count.
        eps: smoothing added to numerator and denominator (keeps absent classes finite).

    Returns:
        A scalar in [0, 1]; 0 when the softmax puts all mass on the true class everywhere.
    """
    c = logits.shape[1]
    valid = (target != ignore_index).unsqueeze(1).to(logits.dtype)  # (B, 1, H, W)
    probs = logits.softmax(1) * valid
    onehot = F.one_hot(target.clamp(0, c - 1) * (target != ignore_index), c).permute(0, 3, 1, 2)
    onehot = onehot.to(logits.dtype) * valid  # (B, C, H, W)
    inter = (probs * onehot).sum((0, 2, 3))
    denom = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + eps) / (denom + eps)).mean()
