"""Pieces the pretext tasks add to the SSL encoders (plain PyTorch, no lightning).

- ``spatial_features``: the encoder's last feature map before pooling (colourisation predicts per pixel).
- ``frozen_bn_stats``: a context in which BatchNorm normalises by batch statistics but does not
  update its running statistics. Patch-based tasks train on 16-20 px tiles, while linear
  evaluation freezes the encoder *with its running statistics* and feeds whole images; so the
  patch passes leave the running statistics alone and a no-gradient pass over the whole images
  sets them.
- ``Grayscale``: normalised RGB -> the same image in grey (luma), normalised again, 3 channels.
- ``ColourDecoder``: feature map -> per-pixel logits over the ab bins at 4x the map's side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

from lit_modules.nets.ssl import SmallCNN, projection_head

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as torchvision's rgb_to_grayscale


def spatial_features(backbone: nn.Module, x: Tensor) -> Tensor:
    """``(B, 3, H, W)`` -> the last feature map ``(B, F, h, w)``; its spatial mean is ``backbone(x)``."""
    if isinstance(backbone, SmallCNN):
        return backbone.features(x)
    if isinstance(backbone, torchvision.models.ResNet):
        b = backbone
        x = b.maxpool(b.relu(b.bn1(b.conv1(x))))
        return b.layer4(b.layer3(b.layer2(b.layer1(x))))
    raise TypeError(f"no feature map for {type(backbone).__name__}")


@contextlib.contextmanager
def frozen_bn_stats(module: nn.Module) -> Iterator[None]:
    """BatchNorm layers of ``module`` keep their running statistics inside the context (momentum 0)."""
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.momentum = 0.0  # running = (1 - 0) running + 0 batch
    try:
        yield
    finally:
        for m, mom in zip(norms, saved):
            m.momentum = mom


class Grayscale(nn.Module):
    """Normalised RGB ``(B, 3, H, W)`` -> its luma in all 3 channels, normalised the same way.

    ``mean``/``std`` are the data's normalisation (of pixels in [0, 1]); they are buffers that the
    owner sets from the datamodule.
    """

    def __init__(self, mean: Sequence[float] = (0.5,) * 3, std: Sequence[float] = (0.25,) * 3) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def set_stats(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean.copy_(torch.tensor(mean).view(1, 3, 1, 1))
        self.std.copy_(torch.tensor(std).view(1, 3, 1, 1))

    def rgb(self, x: Tensor) -> Tensor:
        """Normalised -> RGB in [0, 1]."""
        return (x * self.std + self.mean).clamp(0, 1)

    def forward(self, x: Tensor) -> Tensor:
        grey = (self.rgb(x) * self.luma).sum(1, keepdim=True)  # (B, 1, H, W)
        return (grey - self.mean) / self.std  # (B, 3, H, W) by broadcasting


class ColourDecoder(nn.Module):
    """Feature map ``(B, F, h, w)`` -> bin logits ``(B, Q, 4h, 4w)``: two x2 upsampling stages.

    Zhang et al. predict at a quarter of the input side from a dilated VGG; on the 4x4 map of a
    64 px SmallCNN this gives 16x16, the paper's ratio.
    """

    def __init__(self, in_dim: int, num_bins: int, hidden: int = 128) -> None:
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                 nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

        self.body = nn.Sequential(stage(in_dim, hidden), stage(hidden, hidden), nn.Conv2d(hidden, num_bins, 1))

    def forward(self, feats: Tensor) -> Tensor:
        return self.body(feats)  # (B, Q, 4h, 4w)


def classifier_head(in_dim: int, hidden: int, num_classes: int) -> nn.Module:
    """The pretext classifier on encoder features: an MLP (Linear-BN-ReLU-Linear, as the SSL
    projection heads) with ``hidden`` units, or a linear layer for ``hidden=0``."""
    if hidden == 0:
        return nn.Linear(in_dim, num_classes)
    return projection_head(in_dim, hidden, num_classes)[0]


def pair_features(centre: Tensor, neighbours: Tensor) -> Tensor:
    """Late fusion of Doersch's pair network: ``(B, F)`` and ``(B, K, F)`` -> ``(B*K, 2F)``."""
    b, k, f = neighbours.shape
    return torch.cat([centre.unsqueeze(1).expand(b, k, f), neighbours], -1).flatten(0, 1)  # (B*K, 2F)


def per_tile_normalise(tiles: Tensor, eps: float = 1e-5) -> Tensor:
    """Each tile ``(..., C, p, p)`` to zero mean and unit std over its own pixels (Noroozi Sec. 3.2:
    no shortcut through tiles' shared low-level statistics)."""
    mean = tiles.mean((-3, -2, -1), keepdim=True)
    std = tiles.std((-3, -2, -1), keepdim=True)
    return (tiles - mean) / (std + eps)


def upsample_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
