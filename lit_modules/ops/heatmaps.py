"""Gaussian heatmap targets and sub-pixel argmax decoding (Newell et al. 2016, Sec. 3.3/4).

Coordinates follow the pixel-edge convention of the datamodules: input pixel ``i`` spans
``[i, i + 1)``. Heatmap pixel ``j`` of a net with output stride ``s`` covers input pixels
``[j s, (j + 1) s)``, so its centre is input coordinate ``(j + 0.5) s`` and a keypoint at input
coordinate ``x`` sits at heatmap coordinate ``u = x / s - 0.5`` (in heatmap-pixel centres).
"""

from __future__ import annotations

import torch
from torch import Tensor


def encode_heatmaps(keypoints: Tensor, size: tuple[int, int], stride: float, sigma: float = 1.0) -> tuple[Tensor, Tensor]:
    """2D Gaussians (peak 1) centred on the keypoints, one map per joint.

    Args:
        keypoints: ``(B, K, 3)`` as (x, y, visibility) in input pixels; visibility 0 = unlabelled.
        size: heatmap ``(H, W)``.
        stride: input pixels per heatmap pixel.
        sigma: Gaussian standard deviation in heatmap pixels (the paper: 1 px on 64x64 maps).

    Returns:
        ``(heatmaps, weights)``: heatmaps ``(B, K, H, W)`` float (all zero for unlabelled joints
        or joints whose centre lies outside the map), weights ``(B, K)`` float in {0, 1}.
    """
    h, w = size
    u = keypoints[..., 0] / stride - 0.5  # (B, K) heatmap x
    v = keypoints[..., 1] / stride - 0.5  # (B, K) heatmap y
    inside = (u >= -0.5) & (u < w - 0.5) & (v >= -0.5) & (v < h - 0.5)
    weights = ((keypoints[..., 2] > 0) & inside).to(keypoints.dtype)  # (B, K)
    xs = torch.arange(w, dtype=keypoints.dtype, device=keypoints.device)
    ys = torch.arange(h, dtype=keypoints.dtype, device=keypoints.device)
    gx = torch.exp(-((xs - u[..., None]) ** 2) / (2 * sigma**2))  # (B, K, W)
    gy = torch.exp(-((ys - v[..., None]) ** 2) / (2 * sigma**2))  # (B, K, H)
    heatmaps = gy[..., :, None] * gx[..., None, :]  # (B, K, H, W): separable Gaussian
    return heatmaps * weights[..., None, None], weights


def decode_heatmaps(heatmaps: Tensor, stride: float) -> Tensor:
    """Argmax of each map, moved a quarter pixel towards the higher neighbour, in input pixels.

    The quarter-pixel shift is the paper's code (``pose-hg-demo/util.lua``,
    ``getPreds`` + ``finalPreds``): it halves the expected quantisation error of a plain argmax.

    Args:
        heatmaps: ``(B, K, H, W)``.
        stride: input pixels per heatmap pixel.

    Returns:
        ``(B, K, 3)``: (x, y, score) with x, y in input pixels and score the map's maximum.
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.flatten(2)  # (B, K, H*W)
    score, idx = flat.max(-1)  # (B, K)
    py, px = idx // w, idx % w
    maps = heatmaps.reshape(b * k, h, w)
    n = torch.arange(b * k, device=heatmaps.device)
    px1, py1 = px.flatten(), py.flatten()  # (B*K,)

    def at(y: Tensor, x: Tensor) -> Tensor:
        return maps[n, y.clamp(0, h - 1), x.clamp(0, w - 1)]

    dx = torch.sign(at(py1, px1 + 1) - at(py1, px1 - 1)) * ((px1 > 0) & (px1 < w - 1))
    dy = torch.sign(at(py1 + 1, px1) - at(py1 - 1, px1)) * ((py1 > 0) & (py1 < h - 1))
    u = px.to(heatmaps.dtype) + 0.25 * dx.view(b, k)
    v = py.to(heatmaps.dtype) + 0.25 * dy.view(b, k)
    return torch.stack([(u + 0.5) * stride, (v + 0.5) * stride, score], -1)  # (B, K, 3)
