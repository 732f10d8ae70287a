"""Video classifiers on clips ``(B, 3, T, H, W)`` -> logits ``(B, num_classes)``; plain torch.

The ladder of the papers: a 2D CNN on single frames (scores averaged over time), late fusion of
per-frame features (Karpathy 2014), C3D's 3x3x3 convolutions (Tran 2015), and the 3D / (2+1)D
ResNets (Tran 2018, built from torchvision's video blocks). The 2D baselines share C3D's trunk
with 3x3 kernels, so the only difference between them and C3D is time in the convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchvision.models import video as tvv
from torchvision.models.video.resnet import BasicBlock, Conv2Plus1D, Conv3DSimple

# C3D (Tran 2015, Fig. 3): 8 convs, pooling after conv1, conv2, conv3b, conv4b, conv5b.
C3D_CHANNELS = (64, 128, 256, 256, 512, 512, 512, 512)
C3D_POOL_AFTER = (0, 1, 3, 5, 7)


def conv_trunk(dims: int, width: float, batch_norm: bool, in_channels: int = 3) -> tuple[nn.Sequential, int]:
    """C3D's conv layers as 3D (3x3x3) or 2D (3x3) convolutions; returns (trunk, out channels).

    ``in_channels``: 3 for RGB; a 2D trunk over stacked frames takes more (early fusion: 3T,
    a two-stream temporal stream: 2L flow planes).

    Pool 1 keeps time (1x2x2, the paper's "not to merge the temporal signal too early"), the
    others are 2x2x2. ``ceil_mode`` lets short demo clips (T=8) and small frames pass all five.
    """
    conv, norm = (nn.Conv3d, nn.BatchNorm3d) if dims == 3 else (nn.Conv2d, nn.BatchNorm2d)
    layers: list[nn.Module] = []
    c_in = in_channels
    for i, c in enumerate(C3D_CHANNELS):
        c_out = max(8, round(c * width))
        layers += [conv(c_in, c_out, 3, padding=1, bias=not batch_norm)]
        layers += [norm(c_out)] if batch_norm else []
        layers += [nn.ReLU(inplace=True)]
        if i in C3D_POOL_AFTER:
            k = (1, 2, 2) if (dims == 3 and i == 0) else 2
            layers += [(nn.MaxPool3d if dims == 3 else nn.MaxPool2d)(k, k, ceil_mode=True)]
        c_in = c_out
    return nn.Sequential(*layers), c_in


def _mlp_head(d_in: int, hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """fc6 -> fc7 -> fc8 of C3D (hidden=4096 in the paper)."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(d_in, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )  # fmt: skip


class C3D(nn.Module):
    """C3D (Tran et al. 2015): 8 conv layers of 3x3x3 kernels, 5 poolings, 2 FC layers.

    Args:
        num_classes: output classes.
        width: channel multiplier (1.0 = paper, 64-128-256-256-512-512-512-512).
        hidden: fc6/fc7 width (4096 = paper).
        dropout: dropout after fc6 and fc7 (0.5 = paper).
        batch_norm: BN after each conv (not in the paper; helps training from scratch).
        pool_output: (T, H, W) of the adaptive pool before fc6; (1, 4, 4) = the paper's 8192-d
            pool5 for 16x112x112 clips.
    """

    def __init__(self, num_classes: int, width: float = 1.0, hidden: int = 4096, dropout: float = 0.5,
                 batch_norm: bool = False, pool_output: Sequence[int] = (1, 4, 4)) -> None:
        super().__init__()
        self.features, c = conv_trunk(3, width, batch_norm)
        self.pool = nn.AdaptiveAvgPool3d(tuple(pool_output))
        self.head = _mlp_head(c * int(torch.tensor(pool_output).prod()), hidden, num_classes, dropout)

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.pool(self.features(clips)))  # (B, C, T', H', W') -> (B, classes)


class FrameEncoder(nn.Module):
    """C3D's trunk with 2D kernels, applied to every frame: ``(B, 3, T, H, W)`` -> ``(B, T, D)``."""

    def __init__(self, width: float, batch_norm: bool) -> None:
        super().__init__()
        self.features, self.dim = conv_trunk(2, width, batch_norm)

    def forward(self, clips: Tensor) -> Tensor:
        b, _, t = clips.shape[:3]
        frames = clips.transpose(1, 2).flatten(0, 1)  # (B*T, 3, H, W)
        feats = self.features(frames).mean((2, 3))  # (B*T, D): global average pool
        return feats.view(b, t, -1)  # (B, T, D)


class SingleFrame(nn.Module):
    """Single-frame baseline: a 2D CNN classifies each frame, the logits are averaged over T.

    It sees no order between frames, so motions that differ only in direction (left/right,
    cw/ccw, grow/shrink) look the same to it.
    """

    def __init__(self, num_classes: int, width: float = 1.0, batch_norm: bool = True) -> None:
        super().__init__()
        self.encoder = FrameEncoder(width, batch_norm)
        self.fc = nn.Linear(self.encoder.dim, num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        return self.fc(self.encoder(clips)).mean(1)  # (B, T, classes) -> (B, classes)


class LateFusion(nn.Module):
    """Late fusion (Karpathy 2014): per-frame 2D features fused at the first FC layer.

    Args:
        num_classes: output classes.
        num_frames: T; "concat" fusion keeps the frames in order, so it needs T fixed.
        fusion: "concat" (features in time order -> FC: can tell direction) or "mean"
            (average pooling over time: order-blind, like the single-frame model).
        width: channel multiplier of the 2D trunk.
        hidden: width of the fused FC layer.
        batch_norm: BN in the 2D trunk.
    """

    def __init__(self, num_classes: int, num_frames: int, fusion: str = "concat", width: float = 1.0,
                 hidden: int = 512, batch_norm: bool = True) -> None:
        super().__init__()
        self.encoder = FrameEncoder(width, batch_norm)
        self.fusion = fusion
        d_in = self.encoder.dim * (num_frames if fusion == "concat" else 1)
        self.head = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes))

    def forward(self, clips: Tensor) -> Tensor:
        feats = self.encoder(clips)  # (B, T, D)
        fused = feats.flatten(1) if self.fusion == "concat" else feats.mean(1)  # (B, T*D) or (B, D)
        return self.head(fused)


class _Stem(nn.Sequential):
    """torchvision's R3D / R(2+1)D stems with ``width`` output channels (64 in torchvision)."""

    def __init__(self, width: int, factorised: bool) -> None:
        if factorised:  # (1,7,7) spatial then (3,1,1) temporal, 45 mid channels at width 64
            mid = round(45 * width / 64)
            convs = [nn.Conv3d(3, mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False), nn.BatchNorm3d(mid),
                     nn.ReLU(inplace=True), nn.Conv3d(mid, width, (3, 1, 1), 1, (1, 0, 0), bias=False)]
        else:
            convs = [nn.Conv3d(3, width, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)]
        super().__init__(*convs, nn.BatchNorm3d(width), nn.ReLU(inplace=True))


class VideoResNet18(nn.Module):
    """R3D-18 / R(2+1)D-18 (Tran et al. 2018) from torchvision's blocks, at any width.

    ``width=64`` is torchvision's ``r3d_18`` / ``r2plus1d_18`` (same parameter count, tested);
    smaller widths are for the CPU demo, where the full nets would take hours.

    Args:
        num_classes: output classes.
        factorised: R(2+1)D (spatial 1x3x3 then temporal 3x1x1 convolutions) instead of R3D.
        width: channels of the first stage (64 = paper; stages are width x 1, 2, 4, 8).
    """

    def __init__(self, num_classes: int, factorised: bool = False, width: int = 64) -> None:
        super().__init__()
        conv = Conv2Plus1D if factorised else Conv3DSimple
        self.stem = _Stem(width, factorised)
        stages, c_in = [], width
        for i, c in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or c_in != c:
                down = nn.Sequential(nn.Conv3d(c_in, c, 1, stride, bias=False), nn.BatchNorm3d(c))
            stages.append(nn.Sequential(BasicBlock(c_in, c, conv, stride, down), BasicBlock(c, c, conv)))
            c_in = c
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, clips: Tensor) -> Tensor:
        x = self.stages(self.stem(clips))  # (B, 8w, T/8, H/16, W/16)
        return self.fc(x.mean((2, 3, 4)))  # (B, classes)


def insert_non_local(net: nn.Module, where: Sequence[int]) -> None:
    """Insert non-local blocks (Wang 2018) in place: after C3D conv ``i`` (its ReLU and pool), or
    after stage ``i`` of an R3D / R(2+1)D; zero-initialised, so the net's function is unchanged."""
    from lit_modules.nets.non_local import NonLocalBlock

    if isinstance(net, C3D):
        layers, conv_i, chans, out = list(net.features), -1, 0, []
        for k, layer in enumerate(layers):
            out.append(layer)
            if isinstance(layer, nn.Conv3d):
                conv_i, chans = conv_i + 1, layer.out_channels
            nxt = layers[k + 1] if k + 1 < len(layers) else None
            if conv_i in where and not isinstance(nxt, nn.BatchNorm3d | nn.ReLU | nn.MaxPool3d):
                out.append(NonLocalBlock(chans))
        bad = [i for i in where if not 0 <= i < len(C3D_CHANNELS)]
        net.features = nn.Sequential(*out)
    else:
        stages = list(net.stages) if isinstance(net, VideoResNet18) else \
            [getattr(net, f"layer{i + 1}", None) for i in range(4)]
        if any(s is None for s in stages):
            raise ValueError("non-local blocks go into C3D, R3D-18 or R(2+1)D-18")
        bad = [i for i in where if not 0 <= i < 4]
        for i in where:
            if not bad:
                stages[i].append(NonLocalBlock(stages[i][-1].conv2[1].num_features))  # the block's output BN
    if bad:
        raise ValueError(f"positions {bad} do not exist (C3D: convs 0-7, ResNets: stages 0-3)")


def video_resnet18(num_classes: int, factorised: bool, width: int = 64) -> nn.Module:
    """torchvision's builder at the paper's width (weights=None: no downloads), else the mirror."""
    if width == 64:
        build = tvv.r2plus1d_18 if factorised else tvv.r3d_18
        return build(weights=None, num_classes=num_classes)
    return VideoResNet18(num_classes, factorised, width)
