"""Heatmap regression loss of the stacked hourglass (Newell et al. 2016, Sec. 4)."""

from __future__ import annotations

from torch import Tensor


def heatmap_mse(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
    """Mean squared error between predicted and target heatmaps over labelled joints only.

    Args:
        pred: ``(B, K, H, W)`` predicted heatmaps.
        target: ``(B, K, H, W)`` Gaussian targets (``ops.heatmaps.encode_heatmaps``).
        weights: ``(B, K)`` 1 for labelled joints, 0 for joints to ignore.

    Returns:
        Scalar: per-pixel squared error averaged over the pixels of labelled joints' maps
        (0 when no joint is labelled, so an empty batch does not produce NaN).
    """
    per_joint = (pred - target).pow(2).mean((-2, -1))  # (B, K)
    return (per_joint * weights).sum() / weights.sum().clamp_min(1.0)
