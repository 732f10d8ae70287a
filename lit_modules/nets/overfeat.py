"""A CPU-sized OverFeat-style net: one conv trunk, a classifier head and a box-regression head.

OverFeat (Sermanet 2014) trains the classifier, then a regressor on the shared pool5 features
(two FC layers, 4096 and 1024, then 4 box coordinates per class or shared). Here the trunk is
``det_backbones.SmallCNN``; both heads read its map pooled to ``pool`` x ``pool`` so the box head
sees where things are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lit_modules.nets.det_backbones import SmallCNN


class LocalisationNet(nn.Module):
    """Image -> class logits and a box.

    Args:
        num_classes: K.
        width: first-stage channels of the trunk.
        stride: the trunk's output stride (8, 16 or 32).
        pool: side of the pooled map both heads read.
        hidden: FC width of both heads (OverFeat's regressor: 4096, then 1024).
        class_specific: one box per class (PCR) instead of one shared box (SCR).

    Shapes: ``(B, 3, H, W)`` -> logits ``(B, K)``, boxes ``(B, 4)`` or ``(B, K, 4)``: image-normalised
    xyxy (in [0, 1], x0 <= x1, y0 <= y1 by construction: a sigmoid centre and size).
    """

    def __init__(self, num_classes: int, width: int = 32, stride: int = 16, pool: int = 4, hidden: int = 256,
                 class_specific: bool = False) -> None:
        super().__init__()
        self.trunk = SmallCNN(width, stride)
        c = self.trunk.out_channels
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(pool), nn.Flatten())
        self.k, self.per_class = num_classes, class_specific

        def mlp(out: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(c * pool * pool, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out))

        self.classifier = mlp(num_classes)
        self.regressor = mlp(4 * num_classes if class_specific else 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        f = self.pool(self.trunk(x))  # (B, C * pool * pool)
        logits = self.classifier(f)  # (B, K)
        cxcywh = torch.sigmoid(self.regressor(f).view(len(x), -1, 4))  # (B, 1 or K, 4)
        c, half = cxcywh[..., :2], cxcywh[..., 2:] / 2
        boxes = torch.cat([c - half, c + half], -1).clamp(0, 1)  # (B, 1 or K, 4) xyxy
        return logits, (boxes if self.per_class else boxes[:, 0])
