"""Captioning losses: word cross-entropy under teacher forcing, and Show-Attend-Tell's doubly
stochastic attention regulariser (Xu et al. 2015, Eq. 14)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def caption_cross_entropy(logits: Tensor, targets: Tensor, pad_id: int = 0) -> Tensor:
    """Mean negative log-likelihood of the next word over the non-padding positions.

    Args:
        logits: (B, T, V) word scores for positions 1..T.
        targets: (B, T) int64 next-word ids; ``pad_id`` positions do not count.
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def doubly_stochastic(alphas: Tensor, mask: Tensor) -> Tensor:
    """sum_i (1 - sum_t alpha_ti)^2, averaged over the batch.

    Each step's attention already sums to 1 over the L locations; this term asks that, over the
    caption, every location receives about one unit of attention in total, so the model looks
    at every part of the image at some point (the paper's lambda is applied by the caller).

    Args:
        alphas: (B, T, L) attention weights.
        mask: (B, T) bool or 0/1, the steps that produced a real word (padding steps do not count).
    """
    per_location = (alphas * mask.unsqueeze(-1).to(alphas.dtype)).sum(1)  # (B, L)
    return ((1 - per_location) ** 2).sum(1).mean()
