"""Encoders and projection heads for contrastive self-supervision (SimCLR, MoCo v2).

``encoder(...)`` returns a backbone that maps ``(B, 3, H, W)`` to pooled features ``(B, F)``
and ``F``; ``projection_head(...)`` the MLP between features and the contrastive loss.
"""

from __future__ import annotations

import itertools
from typing import Literal

import torchvision
from torch import Tensor, nn

Encoder = Literal["resnet18", "resnet50", "small_cnn"]


class SmallCNN(nn.Module):
    """Four stages of two conv-BN-ReLU layers, each stage halving the side, global average pool.

    A CPU-sized encoder for the ShapesWorld demos (~105 MFLOPs an image at 64 px, width 32).
    ``width`` is the first stage's channels, doubled per stage. Input ``(B, 3, H, W)``,
    output ``(B, 8 * width)``.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for cin, cout in itertools.pairwise(chans):  # 64 px -> 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.out_dim = chans[-1]

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x).mean((2, 3))  # (B, C, h, w) -> (B, C)


def encoder(name: Encoder, *, cifar_stem: bool = False, width: int = 32) -> tuple[nn.Module, int]:
    """A randomly initialised backbone without classifier, and its feature size.

    Args:
        name: ``resnet18`` / ``resnet50`` (torchvision) or ``small_cnn`` (CPU demos).
        cifar_stem: ResNet stem for 32-96 px images (SimCLR appendix B.9): conv1 3x3 stride 1,
            no max pool, instead of the ImageNet 7x7 stride 2 + max pool.
        width: first-stage channels of ``small_cnn`` (ignored by the ResNets).
    """
    if name == "small_cnn":
        net = SmallCNN(width)
        return net, net.out_dim
    if name not in ("resnet18", "resnet50"):
        raise ValueError(f"unknown encoder {name!r}; expected one of {Encoder.__args__}")
    net = getattr(torchvision.models, name)(weights=None)
    if cifar_stem:
        net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    dim = net.fc.in_features
    net.fc = nn.Identity()  # (B, 3, H, W) -> (B, dim) pooled features
    return net, dim


def projection_head(
    in_dim: int, hidden_dim: int, out_dim: int, *, enabled: bool = True, batch_norm: bool = True
) -> tuple[nn.Module, int]:
    """The MLP g(h) = W2 relu(BN(W1 h)) whose output the contrastive loss sees.

    SimCLR uses BN in the hidden layer (``batch_norm=True``); MoCo v2 a plain 2-layer MLP.
    With ``enabled=False`` the loss acts on the features directly (SimCLR's "no projection"
    ablation, Fig. 8) and the head is the identity. Returns the head and its output size.
    """
    if not enabled:
        return nn.Identity(), in_dim
    norm = nn.BatchNorm1d(hidden_dim) if batch_norm else nn.Identity()
    head = nn.Sequential(nn.Linear(in_dim, hidden_dim, bias=not batch_norm), norm, nn.ReLU(inplace=True),
                         nn.Linear(hidden_dim, out_dim))
    return head, out_dim
