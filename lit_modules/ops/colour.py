"""Quantised ab colour targets of "Colorful Image Colorization" (Zhang, Isola & Efros 2016, Sec. 2.1-2.3).

CIE Lab by kornia (``rgb_to_lab``/``lab_to_rgb``, sRGB D65). The ab plane is cut into 10 x 10
bins; only the bins some sRGB colour falls into are kept ("in gamut": the paper's 313 bins were
those seen on ImageNet; the whole sRGB gamut gives a few more). Targets are *soft*: each pixel's
ab spreads over its 5 nearest bin centres with a Gaussian of sigma 5. Class rebalancing weights
each pixel by the rarity of its bin, w ~ ((1 - lambda) p_smooth + lambda / Q)^-1 with lambda 1/2,
normalised so that E_p[w] = 1. Decoding takes the *annealed mean* of the predicted distribution
(temperature 0.38): between the mean (greyish) and the mode (patchy).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from kornia.color import lab_to_rgb, rgb_to_lab
from torch import Tensor

__all__ = ["ab_bins", "annealed_mean", "lab_to_rgb", "quantise", "rebalance_weights", "rgb_to_lab", "soft_encode"]


@functools.lru_cache(maxsize=4)
def _bins(grid: float, steps: int) -> Tensor:
    levels = torch.linspace(0, 1, steps)
    rgb = torch.stack(torch.meshgrid(levels, levels, levels, indexing="ij")).reshape(3, -1, 1)  # (3, N, 1)
    ab = rgb_to_lab(rgb)[1:, :, 0].T  # (N, 2) every sRGB colour's ab
    cells = torch.unique(torch.round(ab / grid), dim=0)  # (Q, 2) bins any colour falls into
    return cells * grid


def ab_bins(grid: float = 10.0, steps: int = 48) -> Tensor:
    """Centres ``(Q, 2)`` of the in-gamut ab bins (bin = the ab values that round to the same
    multiple of ``grid``), found from a ``steps^3`` lattice of sRGB colours."""
    return _bins(float(grid), int(steps)).clone()


def quantise(ab: Tensor, centres: Tensor) -> Tensor:
    """Index of the nearest bin centre of each ab value: ``(..., 2)`` -> ``(...)`` int64."""
    return torch.cdist(ab.reshape(-1, 2).float(), centres).argmin(1).view(ab.shape[:-1])


def soft_encode(ab: Tensor, centres: Tensor, k: int = 5, sigma: float = 5.0) -> Tensor:
    """Soft targets Z: each ab value spread over its ``k`` nearest bins with a Gaussian kernel.

    Args:
        ab: ``(N, 2)`` ab values.
        centres: ``(Q, 2)`` bin centres.

    Returns:
        ``(N, Q)`` rows summing to 1.
    """
    d = torch.cdist(ab.float(), centres)  # (N, Q)
    near, idx = d.topk(k, dim=1, largest=False)  # (N, k)
    w = torch.exp(-(near ** 2) / (2 * sigma ** 2))
    w = w / w.sum(1, keepdim=True)
    return torch.zeros_like(d).scatter_(1, idx, w)


def rebalance_weights(counts: Tensor, centres: Tensor, lam: float = 0.5, sigma: float = 5.0) -> Tensor:
    """Per-bin weights of the rebalanced loss from bin counts (Zhang Eq. 3-4).

    Args:
        counts: ``(Q,)`` how often each bin was the nearest one in the training data.
        centres: ``(Q, 2)`` bin centres (for the Gaussian smoothing of the empirical distribution).
        lam: mixing weight of the uniform distribution (1/2 in the paper).
        sigma: smoothing kernel in ab units (5).

    Returns:
        ``(Q,)`` weights with ``sum(p_smooth * w) == 1``.
    """
    p = counts.float() / counts.sum().clamp(min=1)
    kernel = torch.exp(-torch.cdist(centres, centres) ** 2 / (2 * sigma ** 2))  # (Q, Q)
    p_smooth = kernel @ p
    p_smooth = p_smooth / p_smooth.sum().clamp(min=1e-12)
    w = 1.0 / ((1 - lam) * p_smooth + lam / len(centres))
    return w / (p_smooth * w).sum()


def annealed_mean(logits: Tensor, centres: Tensor, temperature: float = 0.38, dim: int = 1) -> Tensor:
    """ab from a predicted bin distribution: the mean of the distribution sharpened by ``temperature``.

    ``logits`` ``(B, Q, H, W)`` (``dim=1``) -> ab ``(B, 2, H, W)``. T = 1 is the mean, T -> 0 the mode.
    """
    p = F.softmax(logits / temperature, dim=dim)  # softmax(log z / T) = z^(1/T) renormalised
    return torch.einsum("bqhw,qc->bchw", p, centres.to(p.dtype))
