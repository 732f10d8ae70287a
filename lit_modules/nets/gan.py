"""DCGAN generator and discriminator/critic — Radford, Metz, Chintala, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks" (ICLR 2016).

Generator: z (and optionally a class embedding) is projected to a 4x4 map by a 4x4 transposed
conv, then each stride-2 4x4 transposed conv doubles the side and halves the channels
(BN + ReLU after each), and a last transposed conv to 3 channels ends in tanh, so images lie in
[-1, 1]. Discriminator: the mirror image, stride-2 4x4 convs with LeakyReLU(0.2) down to 4x4,
no norm on the first layer (paper), then a 4x4 conv to one score. WGAN-GP (Gulrajani et al.
2017) needs a critic without batch norm, since the gradient penalty is per sample: ``norm="none"``
or ``"layer"`` (the paper's suggested replacement). Class conditioning (``num_classes > 0``):
the generator concatenates a learned class embedding to z (Mirza & Osindero 2014); the critic
adds a projection term <embed(y), features> (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

Norm = Literal["batch", "none", "layer"]


def check_image_size(image_size: int) -> int:
    """Number of stride-2 stages between 4x4 and ``image_size`` (a power of two >= 16)."""
    if image_size < 16 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two >= 16 (16, 32, 64, ...), got {image_size}")
    return int(math.log2(image_size)) - 2  # 32 px: 4 -> 8 -> 16 -> 32 is 3 stages


def _norm(kind: Norm, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # one group: normalise over (C, H, W) per sample
    return nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """The paper's initialisation: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """DCGAN generator: latent vector (+ class) -> image in [-1, 1].

    Args:
        latent_dim: size of z (paper: 100).
        image_size: output side, a power of two >= 16 (32: CIFAR, 64: the paper's LSUN/faces).
        width: channels of the last hidden layer; the 4x4 layer has ``width * 2**(stages-1)``
            (paper at 64 px: width 128, so 1024 channels at 4x4).
        channels: image channels.
        num_classes: 0 = unconditional; otherwise a class embedding is concatenated to z.
        embed_dim: size of that class embedding.

    I/O: z (B, latent_dim) [, labels int64 (B,)] -> images (B, channels, image_size, image_size).
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 32, width: int = 64, channels: int = 3,
                 num_classes: int = 0, embed_dim: int = 16) -> None:
        super().__init__()
        stages = check_image_size(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes > 0 else None
        c = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + (embed_dim if num_classes > 0 else 0), c, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c), nn.ReLU(True),  # (B, c, 4, 4)
        ]
        for _ in range(stages - 1):  # each doubles the side, halves the channels
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError(f"this generator is conditional ({self.num_classes} classes): pass labels")
            z = torch.cat([z, self.embed(labels)], 1)  # (B, latent_dim + embed_dim)
        return self.net(z[:, :, None, None])  # (B, C', 1, 1) -> (B, channels, S, S)


class Discriminator(nn.Module):
    """DCGAN discriminator, or WGAN critic: image (+ class) -> one unbounded score per image.

    Args:
        image_size: input side, a power of two >= 16.
        width: channels of the first conv, doubling at each stride-2 stage.
        channels: image channels.
        norm: after every conv but the first: "batch" (DCGAN, WGAN), "none" or "layer" (WGAN-GP).
        num_classes: 0 = unconditional; otherwise a projection term <embed(y), features> is added.

    I/O: images (B, channels, S, S) [, labels int64 (B,)] -> scores (B,) (logits for DCGAN).
    """

    def __init__(self, image_size: int = 32, width: int = 64, channels: int = 3, norm: Norm = "batch",
                 num_classes: int = 0) -> None:
        super().__init__()
        if norm not in ("batch", "none", "layer"):
            raise ValueError(f"norm must be 'batch', 'none' or 'layer', got {norm!r}")
        stages = check_image_size(image_size)
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm == "none"), _norm(norm, c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.features = nn.Sequential(*layers)  # (B, c, 4, 4)
        self.head = nn.Conv2d(c, 1, 4, 1, 0)
        self.embed = nn.Embedding(num_classes, c) if num_classes > 0 else None
        dcgan_init(self)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.features(images)  # (B, c, 4, 4)
        score = self.head(h).flatten()  # (B,)
        if self.embed is not None:
            if labels is None:
                raise ValueError(f"this critic is conditional ({self.num_classes} classes): pass labels")
            score = score + (self.embed(labels) * h.sum((2, 3))).sum(1)  # projection term
        return score

