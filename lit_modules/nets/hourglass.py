"""Stacked hourglass network (Newell, Yang & Deng, ECCV 2016, "Stacked Hourglass Networks for
Human Pose Estimation"), following the authors' Torch code (``pose-hg-train``).

Every block is the pre-activation bottleneck residual module (Fig. 4 left); one hourglass pools
down ``depth`` times and upsamples back with a residual skip at every resolution (Fig. 3);
stacks are chained with intermediate predictions remapped into the features (Fig. 4 right).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _bn_relu_conv(cin: int, cout: int, k: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, k, padding=k // 2))


class Residual(nn.Module):
    """Bottleneck residual module: BN-ReLU-1x1 (C/2), BN-ReLU-3x3 (C/2), BN-ReLU-1x1 (C), plus skip.

    ``(B, cin, H, W) -> (B, cout, H, W)``; the skip is a 1x1 conv when ``cin != cout``.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(_bn_relu_conv(cin, mid, 1), _bn_relu_conv(mid, mid, 3), _bn_relu_conv(mid, cout, 1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass of ``depth`` poolings: ``(B, C, H, W) -> (B, C, H, W)``, H and W divisible by 2**depth."""

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up1 = Residual(channels, channels)  # skip branch at this resolution
        self.low1 = Residual(channels, channels)
        self.low2 = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2))))  # (B, C, H/2, W/2)
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class StackedHourglass(nn.Module):
    """N hourglasses in a row, each predicting K heatmaps at 1/``stride`` of the input.

    Args:
        num_joints: K, heatmaps per stack.
        num_stacks: N (paper: 8; its ablation compares 2, 4 and 8).
        channels: feature width inside the hourglasses (paper: 256).
        depth: poolings per hourglass (paper: 4, from 64x64 down to 4x4).
        stride: input pixels per heatmap pixel: 4 (paper: 7x7/2 conv + max-pool), 2 or 1
            (fewer reductions, for small inputs).

    Input ``(B, 3, H, W)``; output ``(B, N, K, H/stride, W/stride)``: every stack's heatmaps, the
    last being the prediction and all of them supervised with intermediate supervision.
    """

    def __init__(self, num_joints: int = 16, num_stacks: int = 8, channels: int = 256, depth: int = 4,
                 stride: Literal[1, 2, 4] = 4) -> None:
        super().__init__()
        c = channels
        conv1 = nn.Conv2d(3, c // 4, 7, stride=2 if stride > 1 else 1, padding=3)
        pool = nn.MaxPool2d(2) if stride == 4 else nn.Identity()
        self.stem = nn.Sequential(conv1, Residual(c // 4, c // 2), pool, Residual(c // 2, c // 2), Residual(c // 2, c))
        self.hourglasses = nn.ModuleList(Hourglass(depth, c) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(c, c), nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            for _ in range(num_stacks))
        self.heads = nn.ModuleList(nn.Conv2d(c, num_joints, 1) for _ in range(num_stacks))
        # Between stacks: features and predictions are mapped back to C channels and added.
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(num_stacks - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(num_joints, c, 1) for _ in range(num_stacks - 1))
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)  # (B, C, H/s, W/s)
        outs = []
        for i, (hg, feat, head) in enumerate(zip(self.hourglasses, self.features, self.heads, strict=True)):
            y = feat(hg(x))  # (B, C, H/s, W/s)
            heat = head(y)  # (B, K, H/s, W/s)
            outs.append(heat)
            if i < len(self.merge_features):
                x = x + self.merge_features[i](y) + self.merge_preds[i](heat)
        return torch.stack(outs, 1)  # (B, N, K, H/s, W/s)
