"""VGG configurations A, B, D, E (Simonyan & Zisserman, ICLR 2015), plain PyTorch.

The layer lists are torchvision's (``torchvision.models.vgg.cfgs``: A=VGG-11, B=13, D=16,
E=19); the builder here adds a width multiplier, FC size and pooled size so the same
configurations run on small ShapesWorld images.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
from torchvision.models.vgg import cfgs

Config = Literal["A", "B", "D", "E"]


def make_features(config: Config, *, batch_norm: bool, width: float) -> tuple[nn.Sequential, int]:
    """Stack 3x3 convs and 2x2 max pools per ``cfgs[config]``; returns (layers, out channels)."""
    layers: list[nn.Module] = []
    channels = 3
    for v in cfgs[config]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        out = max(8, round(int(v) * width))
        layers.append(nn.Conv2d(channels, out, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out))
        layers.append(nn.ReLU(inplace=True))
        channels = out
    return nn.Sequential(*layers), channels


class VGG(nn.Module):
    """VGG.

    Args:
        num_classes: output logits.
        config: "A" (11 layers), "B" (13), "D" (16), "E" (19).
        batch_norm: BN after every conv (not in the paper; torchvision's ``vgg*_bn``).
        dropout: dropout before the two hidden FC layers.
        width: multiplier on conv channels (1.0 = paper).
        fc_dim: hidden FC width (4096 in the paper).
        pool_output: side of the adaptive pool before the classifier (7 at 224 px).

    Input ``(B, 3, H, W)`` with H, W divisible by 32; output ``(B, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        config: Config = "D",
        batch_norm: bool = False,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_dim: int = 4096,
        pool_output: int = 7,
    ) -> None:
        super().__init__()
        self.features, channels = make_features(config, batch_norm=batch_norm, width=width)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_output)
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool_output**2, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc_dim, num_classes),
        )
        for m in self.modules():  # the paper's Glorot-style init, as torchvision does
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))  # (B, C, P, P)
        return self.classifier(x.flatten(1))  # (B, num_classes)
