"""Truncated SVD of fully connected layers (Fast R-CNN, section 3.1): one big matrix as two thin ones."""

from __future__ import annotations

import torch
from torch import nn


def truncated_svd(linear: nn.Linear, k: int) -> nn.Sequential:
    """``W ≈ U_k Σ_k V_kᵀ`` as ``Linear(in, k, bias=False)`` (Σ_k V_kᵀ) then ``Linear(k, out)`` (U_k, the bias).

    Parameters go from ``in * out`` to ``k * (in + out)``: fewer multiply-adds when k is small.
    """
    w = linear.weight.detach()  # (out, in)
    k = min(k, *w.shape)
    u, s, vh = torch.linalg.svd(w, full_matrices=False)  # (out, r), (r,), (r, in)
    first, second = nn.Linear(w.shape[1], k, bias=False), nn.Linear(k, w.shape[0], bias=linear.bias is not None)
    with torch.no_grad():
        first.weight.copy_(s[:k, None] * vh[:k])  # (k, in)
        second.weight.copy_(u[:, :k])  # (out, k)
        if linear.bias is not None:
            second.bias.copy_(linear.bias.detach())
    return nn.Sequential(first, second).to(w.device)
