"""GoogLeNet / Inception v1 (Szegedy et al., CVPR 2015), on torchvision's ``Inception`` block.

The paper's Table 1: a 7x7/2 stem, nine inception modules (parallel 1x1, 1x1->3x3, 1x1->5x5 and
3x3-pool->1x1 branches, the 1x1 "reductions" keeping the cost down), global average pooling,
dropout 0.4 and one linear layer; two auxiliary classifiers on 4a and 4d (5x5/3 average pool,
1x1 conv 128, FC 1024, dropout 0.7) used only in training. Built here rather than with
``torchvision.models.googlenet`` because that one has BatchNorm in every conv and a 3x3 kernel in
the "5x5" branch (torchvision issue 906, kept for its weights); both are switches here
(``batch_norm``, and the 5x5 kernel of the paper always). Not reproduced: the stem's two local
response normalisations. A width multiplier shrinks the net for ShapesWorld.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from torch import Tensor, nn
from torchvision.models.googlenet import BasicConv2d, Inception

# Paper Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj); "M" = 3x3/2 max pool.
INCEPTIONS: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}
ORDER = ("3a", "3b", "M", "4a", "4b", "4c", "4d", "4e", "M", "5a", "5b")


class ConvReLU(nn.Sequential):
    """The paper's conv unit: convolution + ReLU (no BatchNorm, which came half a year later)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, **kwargs), nn.ReLU(inplace=True))


class InceptionV1(Inception):
    """torchvision's ``Inception`` with the paper's 5x5 kernel in the third branch."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, conv_block) -> None:
        super().__init__(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, conv_block)
        self.branch3[1] = conv_block(ch5x5red, ch5x5, kernel_size=5, padding=2)


class AuxHead(nn.Sequential):
    """Paper Sec. 5: 5x5/3 average pool (4x4 at 224 px), 1x1 conv, FC, dropout 0.7, linear."""

    def __init__(self, in_channels: int, num_classes: int, conv_block, *, width: float, fc_dim: int) -> None:
        c = _scaled(128, width)
        super().__init__(nn.AdaptiveAvgPool2d(4), conv_block(in_channels, c, kernel_size=1), nn.Flatten(),
                         nn.Linear(c * 16, fc_dim), nn.ReLU(inplace=True), nn.Dropout(0.7),
                         nn.Linear(fc_dim, num_classes))


class GoogLeNetOutput(NamedTuple):
    """Training-mode output with the auxiliary heads: main logits and the two auxiliaries'."""

    logits: Tensor
    aux1: Tensor
    aux2: Tensor


def _scaled(channels: int, width: float) -> int:
    return max(8, round(channels * width))


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1).

    Args:
        num_classes: output logits.
        aux_logits: build the two auxiliary classifiers (on 4a and 4d).
        batch_norm: torchvision's conv unit (conv + BN + ReLU) instead of the paper's conv + ReLU.
        width: multiplier on every channel count (1.0 = paper).
        aux_fc_dim: hidden width of the auxiliary heads' FC layer (1024 = paper).
        dropout: before the last linear layer (0.4 = paper).

    Input ``(B, 3, H, W)`` with H, W >= 32; output ``(B, num_classes)`` logits, or in training
    mode with ``aux_logits`` a ``GoogLeNetOutput(logits, aux1, aux2)``.
    """

    def __init__(self, num_classes: int = 1000, *, aux_logits: bool = True, batch_norm: bool = False,
                 width: float = 1.0, aux_fc_dim: int = 1024, dropout: float = 0.4) -> None:
        super().__init__()
        conv = BasicConv2d if batch_norm else ConvReLU
        s = partial(_scaled, width=width)
        pool = partial(nn.MaxPool2d, 3, 2, ceil_mode=True)
        self.stem = nn.Sequential(
            conv(3, s(64), kernel_size=7, stride=2, padding=3), pool(),  # (B, 64, H/4, W/4)
            conv(s(64), s(64), kernel_size=1), conv(s(64), s(192), kernel_size=3, padding=1), pool(),  # (B, 192, H/8, W/8)
        )
        channels, blocks, out = s(192), {}, {}
        for i, name in enumerate(ORDER):
            if name == "M":
                blocks[f"pool{i}"] = pool()
                continue
            c1, r3, c3, r5, c5, pp = (s(c) for c in INCEPTIONS[name])
            blocks[name] = InceptionV1(channels, c1, r3, c3, r5, c5, pp, conv)
            channels = out[name] = c1 + c3 + c5 + pp
        self.blocks = nn.ModuleDict(blocks)
        aux = partial(AuxHead, num_classes=num_classes, conv_block=conv, width=width, fc_dim=aux_fc_dim)
        self.aux1 = aux(out["4a"]) if aux_logits else None
        self.aux2 = aux(out["4d"]) if aux_logits else None
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He init on the fan-in keeps each branch's output scale; on the fan-out (torchvision's
                # ResNet habit) the activations grow ~2x per module without BN: 100x by 5b.
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutput:
        x = self.stem(x)  # (B, 192w, H/8, W/8)
        aux = []
        for name, block in self.blocks.items():
            x = block(x)
            if self.training and self.aux1 is not None and name in ("4a", "4d"):
                aux.append((self.aux1 if name == "4a" else self.aux2)(x))  # (B, num_classes)
        logits = self.head(x)  # (B, 1024w, H/32, W/32) -> (B, num_classes)
        return GoogLeNetOutput(logits, *aux) if aux else logits

