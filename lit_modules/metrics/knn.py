"""Weighted k-nearest-neighbour classification of embeddings (plain PyTorch).

Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
Sec. 3.4: the k most cosine-similar bank samples vote for their class with weight
``exp(sim / T)``; k = 200 and T = 0.1 there, and in the SSL monitors that followed it.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def knn_scores(feats: Tensor, bank: Tensor, bank_labels: Tensor, num_classes: int, k: int = 200,
               temperature: float = 0.1) -> Tensor:
    """Class scores of queries by a similarity-weighted vote of their k nearest bank samples.

    Args:
        feats: ``(B, D)`` query features (normalised inside).
        bank: ``(N, D)`` L2-normalised bank features.
        bank_labels: ``(N,)`` int64 labels of the bank.
        num_classes: C.
        k: neighbours (clipped to N).
        temperature: T in ``exp(sim / T)``.

    Returns:
        ``(B, C)`` scores; ``argmax`` is the prediction.
    """
    sim = F.normalize(feats, dim=1) @ bank.T  # (B, N) cosine similarity
    top, idx = sim.topk(min(k, bank.shape[0]), dim=1)  # (B, k)
    weights = (top / temperature).exp()  # (B, k)
    votes = F.one_hot(bank_labels[idx], num_classes).to(weights.dtype)  # (B, k, C)
    return (weights.unsqueeze(-1) * votes).sum(1)  # (B, C)
