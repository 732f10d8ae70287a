"""DCGAN generator and discriminator/critic — Radford, Metz, Chintala, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks" (ICLR 2016).

Generator: z (and optionally a class embedding) is projected to a 4x4 map by a 4x4 transposed
conv, then each stride-2 4x4 transposed conv doubles the side and halves the channels
(BN + ReLU after each), and a last transposed conv to 3 channels ends in tanh, so images lie in
[-1, 1]. Discriminator: the mirror image, stride-2 4x4 convs with LeakyReLU(0.2) down to 4x4,
no norm on the first layer (paper), then a 4x4 conv to one score. WGAN-GP (Gulrajani et al.
2017) needs a critic without batch norm, since the gradient penalty is per sample: ``norm="none"``
or ``"layer"`` (the paper's suggested replacement); ``"spectral"`` divides every critic weight by its
largest singular value instead (Miyato et al. 2018, the norm their projection discriminator uses). Class conditioning (``num_classes > 0``):
the generator concatenates a learned class embedding to z (Mirza & Osindero 2014); the critic
adds a projection term <embed(y), features> (Miyato & Koyama 2018), or (``conditioning="concat"``,
Mirza & Osindero's own form) reads one-hot label planes concatenated to the image channels, or
(``"auxiliary"``, AC-GAN: Odena, Olah & Shlens 2017) does not read y at all and predicts it instead,
from the same features as its score (``class_logits``).
Minibatch discrimination (Salimans et al. 2016, sec. 3.2) appends, per sample, its closeness to
the rest of the batch to the critic's features, so a collapsed batch is easy to spot.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Norm = Literal["batch", "none", "layer", "spectral"]
Conditioning = Literal["projection", "concat", "auxiliary"]
GConditioning = Literal["concat", "batchnorm"]
Upsample = Literal["transposed", "nearest"]


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
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:  # not a ConditionalBatchNorm2d's own BN
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are looked up per class (de Vries et al. 2017; the generator of
    Miyato & Koyama 2018): y = γ_y · BN(x) + β_y, γ initialised to 1 and β to 0.

    The label then scales and shifts every feature map at every layer, instead of entering once as
    an input vector the first transposed conv may learn to ignore.

    I/O: x (B, C, H, W), labels int64 (B,) -> (B, C, H, W).
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain, self.bias = nn.Embedding(num_classes, channels), nn.Embedding(num_classes, channels)

    def reset_parameters(self) -> None:
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        return self.gain(labels)[:, :, None, None] * self.bn(x) + self.bias(labels)[:, :, None, None]


class Generator(nn.Module):
    """DCGAN generator: latent vector (+ class) -> image in [-1, 1].

    Args:
        latent_dim: size of z (paper: 100).
        image_size: output side, a power of two >= 16 (32: CIFAR, 64: the paper's LSUN/faces).
        width: channels of the last hidden layer; the 4x4 layer has ``width * 2**(stages-1)``
            (paper at 64 px: width 128, so 1024 channels at 4x4).
        channels: image channels.
        num_classes: 0 = unconditional; otherwise conditional as ``conditioning`` says.
        embed_dim: size of the class embedding concatenated to z ("concat" only).
        conditioning: "concat" (a class embedding beside z, Mirza & Osindero 2014) or "batchnorm"
            (every BatchNorm's gain and bias per class, ``ConditionalBatchNorm2d``; Miyato & Koyama 2018).
        upsample: how each stage doubles the side: "transposed" (4x4 stride-2 transposed conv, DCGAN) or
            "nearest" (nearest-neighbour upsampling then a 3x3 conv: no checkerboard from uneven kernel
            overlap, Odena, Dumoulin & Olah 2016; SNGAN's ResNet generator upsamples this way).

    I/O: z (B, latent_dim) [, labels int64 (B,)] -> images (B, channels, image_size, image_size).
    """

    def __init__(self, latent_dim: int = 100, image_size: int = 32, width: int = 64, channels: int = 3,
                 num_classes: int = 0, embed_dim: int = 16, conditioning: GConditioning = "concat",
                 upsample: Upsample = "transposed") -> None:
        super().__init__()
        if conditioning not in ("concat", "batchnorm"):
            raise ValueError(f"generator conditioning must be 'concat' or 'batchnorm', got {conditioning!r}")
        if upsample not in ("transposed", "nearest"):
            raise ValueError(f"generator upsample must be 'transposed' or 'nearest', got {upsample!r}")
        stages = check_image_size(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        class_norm = num_classes > 0 and conditioning == "batchnorm"
        concat = num_classes > 0 and not class_norm
        self.embed = nn.Embedding(num_classes, embed_dim) if concat else None

        def norm(c: int) -> nn.Module:
            return ConditionalBatchNorm2d(c, num_classes) if class_norm else nn.BatchNorm2d(c)

        def up(cin: int, cout: int, bias: bool) -> list[nn.Module]:  # (B, cin, s, s) -> (B, cout, 2s, 2s)
            if upsample == "nearest":
                return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=bias)]
            return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)]

        c = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + (embed_dim if concat else 0), c, 4, 1, 0, bias=False),
            norm(c), nn.ReLU(True),  # (B, c, 4, 4)
        ]
        for _ in range(stages - 1):  # each doubles the side, halves the channels
            layers += [*up(c, c // 2, False), norm(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [*up(c, channels, True), nn.Tanh()]
        self.net = nn.ModuleList(layers)
        dcgan_init(self)
        for m in self.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                m.reset_parameters()  # gains 1, biases 0: every class starts as plain BN
        if self.embed is not None:
            # As loud as z ~ N(0, I): at DCGAN's N(0, 0.02) the class input is ~50x quieter than the noise and
            # the generator learns to ignore it (CGAN demo: a label change moved pixels 11x less than a z change).
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.num_classes > 0 and labels is None:
            raise ValueError(f"this generator is conditional ({self.num_classes} classes): pass labels")
        if self.embed is not None:
            z = torch.cat([z, self.embed(labels)], 1)  # (B, latent_dim + embed_dim)
        h = z[:, :, None, None]  # (B, C', 1, 1)
        for layer in self.net:  # -> (B, channels, S, S)
            h = layer(h, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
        return h


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, sec. 3.2: features f (B, A) -> [f, o(f)] (B, A + kernels).

    M_i = f_i T (kernels x dims); c_b(i, j) = exp(-||M_i,b - M_j,b||_1); o(f_i)_b = sum_{j != i} c_b(i, j).
    Samples of a collapsed generator are close to each other, so o is large for a batch of fakes.
    """

    def __init__(self, in_features: int, kernels: int = 32, dims: int = 8) -> None:
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels * dims) * 0.1)

    def forward(self, f: Tensor) -> Tensor:
        m = (f @ self.T).view(-1, self.kernels, self.dims)  # (B, kernels, dims)
        l1 = (m[:, None] - m[None]).abs().sum(-1)  # (B, B, kernels)
        o = torch.exp(-l1).sum(1) - 1.0  # (B, kernels); minus exp(0) = the sample itself
        return torch.cat([f, o], 1)


class Discriminator(nn.Module):
    """DCGAN discriminator, or WGAN critic: image (+ class) -> one unbounded score per image.

    Args:
        image_size: input side, a power of two >= 16.
        width: channels of the first conv, doubling at each stride-2 stage.
        channels: image channels.
        norm: after every conv but the first: "batch" (DCGAN, WGAN), "none" or "layer" (WGAN-GP);
            "spectral": no normalisation layer, every weight spectrally normalised (SNGAN).
        num_classes: 0 = unconditional; otherwise conditioned on the label as ``conditioning`` says.
        conditioning: "projection" (a term <embed(y), features> added to the score), "concat"
            (one-hot label planes concatenated to the input image) or "auxiliary" (AC-GAN: a linear
            class head on the pooled features, ``class_logits``; the score ignores y).
        minibatch_kernels: > 0 adds minibatch discrimination with that many kernels before the score.

    I/O: images (B, channels, S, S) [, labels int64 (B,)] -> scores (B,) (logits for DCGAN);
    ``features_and_score`` also returns the pooled last-conv features (B, c) (feature matching, InfoGAN's Q).
    """

    def __init__(self, image_size: int = 32, width: int = 64, channels: int = 3, norm: Norm = "batch",
                 num_classes: int = 0, conditioning: Conditioning = "projection", minibatch_kernels: int = 0) -> None:
        super().__init__()
        if norm not in ("batch", "none", "layer", "spectral"):
            raise ValueError(f"norm must be 'batch', 'none', 'layer' or 'spectral', got {norm!r}")
        if conditioning not in ("projection", "concat", "auxiliary"):
            raise ValueError(f"conditioning must be 'projection', 'concat' or 'auxiliary', got {conditioning!r}")
        stages = check_image_size(image_size)
        self.num_classes, self.conditioning = num_classes, conditioning
        concat = num_classes if num_classes > 0 and conditioning == "concat" else 0
        layers: list[nn.Module] = [nn.Conv2d(channels + concat, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        c = width
        for _ in range(stages - 1):
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm in ("none", "spectral")), _norm(norm, c * 2), nn.LeakyReLU(0.2, True)]
            c *= 2
        self.num_features = c
        self.features = nn.Sequential(*layers)  # (B, c, 4, 4)
        if minibatch_kernels > 0:
            self.minibatch = MinibatchDiscrimination(c * 16, minibatch_kernels)
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * 16 + minibatch_kernels, 1))
        else:
            self.minibatch, self.head = None, nn.Conv2d(c, 1, 4, 1, 0)
        self.embed = nn.Embedding(num_classes, c) if num_classes > 0 and conditioning == "projection" else None
        self.classifier = nn.Linear(c, num_classes) if num_classes > 0 and conditioning == "auxiliary" else None
        dcgan_init(self)
        if norm == "spectral":  # every weight, the projection embedding included (Miyato & Koyama 2018)
            for m in list(self.modules()):
                if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    nn.utils.parametrizations.spectral_norm(m)

    def features_and_score(self, images: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(pooled features (B, c), scores (B,))."""
        if self.num_classes > 0 and labels is None:
            raise ValueError(f"this critic is conditional ({self.num_classes} classes): pass labels")
        if self.num_classes > 0 and self.conditioning == "concat":
            planes = F.one_hot(labels, self.num_classes).to(images.dtype)  # (B, K)
            images = torch.cat([images, planes[:, :, None, None].expand(-1, -1, *images.shape[-2:])], 1)
        h = self.features(images)  # (B, c, 4, 4)
        if self.minibatch is not None:
            score = self.head(self.minibatch(h.flatten(1))).flatten()  # (B, c*16 + kernels) -> (B,)
        else:
            score = self.head(h).flatten()  # (B,)
        pooled = h.sum((2, 3))  # (B, c)
        if self.embed is not None:
            score = score + (self.embed(labels) * pooled).sum(1)  # projection term
        return pooled, score

    def class_logits(self, pooled: Tensor) -> Tensor:
        """AC-GAN's class prediction (B, K) from ``features_and_score``'s pooled features."""
        if self.classifier is None:
            raise ValueError("class_logits needs conditioning='auxiliary'")
        return self.classifier(pooled)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.features_and_score(images, labels)[1]
