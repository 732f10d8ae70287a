"""R-CNN's per-window network: a CNN on one warped region, fc6/fc7, softmax over K + 1 and class-specific boxes.

The paper's AlexNet (227 px windows, pool5 6x6x256, fc6/fc7 4096) or VGG-16 (224 px), from torchvision
with ImageNet weights; "small" is the detection family's CPU backbone (``det_backbones.SmallCNN``).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.models import alexnet, vgg16

from lit_modules.nets.det_backbones import SmallCNN, load_local
from lit_modules.nets.pretrained import load_pretrained

WindowBackbone = Literal["small", "alexnet", "vgg16"]


class RegionCNN(nn.Module):
    """Warped window ``(R, 3, S, S)`` -> fc7 features ``(R, D)``; heads give class logits and box deltas.

    Args:
        num_classes: K (the softmax has K + 1 outputs, 0 = background; the regressor 4 K).
        backbone: "alexnet" (paper), "vgg16" (paper's Table 3 row) or "small".
        window: warped side S (AlexNet 227, VGG-16 224; any multiple of 8 for "small").
        weights_backbone: ImageNet weights (torchvision name or local file; "small": local file only).
        width: first-stage channels of "small".
        representation: fc6/fc7 width of "small" (AlexNet/VGG-16 keep their 4096).
        dropout: before fc6 and fc7 (paper: 0.5).
        pool: "small" only: the window's feature map max-pooled to ``pool x pool`` before fc6, as Fast
            R-CNN's RoIPool does per RoI (None: the map as it is, ``window // 8`` a side). With the same
            ``pool`` and ``representation`` both detectors have one head (AlexNet: pool5 6x6, VGG-16 7x7).
    """

    def __init__(self, num_classes: int, backbone: WindowBackbone = "alexnet", window: int = 227,
                 weights_backbone: str | None = None, width: int = 16, representation: int = 256,
                 dropout: float = 0.5, pool: int | None = None) -> None:
        super().__init__()
        self.pool: nn.Module = nn.Identity()  # keeps the state dict's keys: the pool has no weights
        if backbone == "small":
            self.body = SmallCNN(width, 8)
            load_local(self.body, weights_backbone, "backbone")
            if pool is not None:
                self.pool = nn.AdaptiveMaxPool2d(pool)  # (R, C, pool, pool)
            flat = self.body.out_channels * (pool or window // 8) ** 2
            self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, representation), nn.ReLU(True),
                                    nn.Dropout(dropout), nn.Linear(representation, representation), nn.ReLU(True))
        else:
            net = (alexnet if backbone == "alexnet" else vgg16)()
            load_pretrained(net, backbone, weights_backbone, "model.init_args.weights_backbone")
            self.body = nn.Sequential(net.features, net.avgpool)
            self.fc = nn.Sequential(nn.Flatten(), *list(net.classifier)[:-1])  # fc6, fc7 (drop the 1000-way fc8)
            representation = 4096
        self.dim = representation
        self.cls = nn.Linear(representation, num_classes + 1)
        self.box = nn.Linear(representation, 4 * num_classes)  # class-specific (dx, dy, dw, dh)
        nn.init.normal_(self.box.weight, std=0.001)
        nn.init.zeros_(self.box.bias)

    def features(self, windows: Tensor) -> Tensor:
        """fc7 features ``(R, D)`` of warped windows ``(R, 3, S, S)``."""
        return self.fc(self.pool(self.body(windows)))

    def forward(self, windows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(logits (R, K + 1), deltas (R, K, 4), fc7 (R, D))``."""
        f = self.features(windows)
        return self.cls(f), self.box(f).view(len(f), self.cls.out_features - 1, 4), f


def chunked(fn, x: Tensor, chunk: int = 512) -> tuple[Tensor, ...]:
    """``fn`` over ``x`` in chunks (test-time windows of a whole image), outputs concatenated."""
    outs = [fn(x[i:i + chunk]) for i in range(0, max(len(x), 1), chunk)] if len(x) else [fn(x)]
    outs = [o if isinstance(o, tuple) else (o,) for o in outs]
    return tuple(torch.cat(parts) for parts in zip(*outs))
