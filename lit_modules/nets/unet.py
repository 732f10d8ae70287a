"""U-Net — Ronneberger, Fischer, Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation" (MICCAI 2015).

A contracting path (two 3x3 convs, then 2x2 max-pool, channels doubling) and an expanding path
(2x2 up-convolution halving the channels, concatenation with the encoder feature map of the same
resolution, two 3x3 convs), ending in a 1x1 conv to per-pixel class scores. The skip
connections carry the high-resolution detail the bottleneck has pooled away: ``skips=False``
is the ablation. Convs are padded (output size = input size) rather than the paper's valid
convs with overlap-tile inference; batch norm after each conv is the common modern default.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn


def _double_conv(cin: int, cout: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in (cin, cout):
        layers += [nn.Conv2d(c, cout, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(cout)] if batch_norm else []
        layers += [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    Args:
        num_classes: output channels (classes including background).
        in_channels: image channels.
        depth: number of 2x down-samplings (paper: 4); H and W must be divisible by 2**depth.
        width: channels of the first level (paper: 64), doubling at each level.
        up: "transpose" (the paper's 2x2 up-convolution) or "bilinear" (upsample + 1x1 conv).
        skips: concatenate encoder features into the decoder (False: the ablation).
        batch_norm: batch norm after each 3x3 conv.

    I/O: images (B, in_channels, H, W) -> logits (B, num_classes, H, W).
    """

    def __init__(self, num_classes: int, in_channels: int = 3, depth: int = 4, width: int = 64,
                 up: Literal["transpose", "bilinear"] = "transpose", skips: bool = True,
                 batch_norm: bool = True) -> None:
        super().__init__()
        self.depth, self.skips = depth, skips
        chans = [width * 2**i for i in range(depth + 1)]  # e.g. 64, 128, 256, 512, 1024
        self.down = nn.ModuleList([_double_conv(in_channels, chans[0], batch_norm)] +
                                  [_double_conv(chans[i], chans[i + 1], batch_norm) for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(depth)):  # chans[i + 1] -> chans[i]
            if up == "transpose":
                self.up.append(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2))
            else:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                             nn.Conv2d(chans[i + 1], chans[i], 1)))
            self.dec.append(_double_conv(chans[i] * (2 if skips else 1), chans[i], batch_norm))
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % 2**self.depth or w % 2**self.depth:
            raise ValueError(f"U-Net of depth {self.depth} needs H and W divisible by {2**self.depth}, got {h}x{w}")
        feats = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            feats.append(x)  # level i: (B, width*2**i, H/2**i, W/2**i)
        x = feats.pop()  # bottleneck
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            skip = feats.pop()
            x = dec(torch.cat([skip, x], 1) if self.skips else x)
        return self.head(x)  # (B, num_classes, H, W)
