"""The small VGG-style encoder the ShapesWorld segmentation demos share (FCN, SegNet, DeconvNet, DeepLab).

Five stages of ``convs`` 3x3 conv-BN-ReLU layers, channels ``width * 2**i`` (16, 32, 64, 128, 256
for width 16): VGG-16's five-block layout at a CPU's width, and the same conv stack as U-Net's
encoder at depth 4, width 16, so the nets differ only in what they do with it. Each method adds
its own pooling (FCN: plain max-pool; SegNet/DeconvNet: max-pool with indices; DeepLab: dilation
instead of the last pools).
"""

from __future__ import annotations

from torch import nn


def conv_bn_relu(cin: int, cout: int, dilation: int = 1) -> list[nn.Module]:
    """3x3 conv (same size), batch norm, ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def stage_widths(width: int, stages: int = 5, cap: int = 512) -> list[int]:
    """Output channels of each stage: ``width`` doubling per stage up to ``cap`` (VGG-16: 64, 128, 256, 512, 512)."""
    return [min(width * 2**i, cap) for i in range(stages)]


def conv_stages(width: int, stages: int = 5, convs: int = 2, in_channels: int = 3,
                dilations: list[int] | None = None) -> nn.ModuleList:
    """``stages`` blocks of ``convs`` conv-BN-ReLU layers; block i may be dilated by ``dilations[i]``."""
    dilations = dilations or [1] * stages
    blocks, cin = nn.ModuleList(), in_channels
    for cout, d in zip(stage_widths(width, stages), dilations, strict=True):
        layers: list[nn.Module] = []
        for j in range(convs):
            layers += conv_bn_relu(cin if j == 0 else cout, cout, d)
        blocks.append(nn.Sequential(*layers))
        cin = cout
    return blocks
