"""The three parts of DANN (Ganin & Lempitsky 2015, Fig. 1): feature extractor G_f, label predictor
G_y and domain classifier G_d, plain PyTorch.

Two architectures from the paper: ``small_cnn`` (its MNIST -> MNIST-M net, supplementary Fig.:
conv5x5-32, max-pool, conv5x5-48, max-pool; G_y 100-100-C; G_d 100-1) and ``alexnet`` (its
Office net: AlexNet up to fc7 + a 256-unit bottleneck; G_y one linear layer; G_d 1024-1024-1).
Not from the paper: ``conv_gap``, a deeper all-3x3 BatchNorm CNN ending in global average pooling
(its SVHN/GTSRB nets are likewise deeper and wider than the MNIST one), for the ShapesWorld demo.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.models import alexnet

from lit_modules.nets.pretrained import load_pretrained

Arch = Literal["small_cnn", "conv_gap", "alexnet"]


class DANNNet(nn.Module):
    """``features`` -> (B, F); ``classifier`` (B, F) -> (B, C) logits; ``domain`` (B, F) -> (B,) logit.

    ``forward`` returns the class logits only (the classification contract), so that the trivial
    baselines, predict and report tools treat it as any classifier.
    """

    def __init__(self, features: nn.Module, classifier: nn.Module, domain: nn.Module) -> None:
        super().__init__()
        self.features, self.classifier, self.domain = features, classifier, domain

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features(images))  # (B, 3, H, W) -> (B, F) -> (B, C)


def _flat_dim(features: nn.Module, in_channels: int, image_size: int) -> int:
    with torch.no_grad():
        return features(torch.zeros(1, in_channels, image_size, image_size)).shape[1]


def domain_mlp(dim: int, hidden: list[int] | tuple[int, ...] = (100,)) -> nn.Sequential:
    """G_d: ``dim`` -> hidden layers (ReLU) -> one logit, (B, dim) -> (B,). The paper: (100,) on MNIST,
    (1024, 1024) on its SVHN/Office nets."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(dim, h), nn.ReLU(inplace=True)]
        dim = h
    return nn.Sequential(*layers, nn.Linear(dim, 1), nn.Flatten(0))


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


def conv_gap(num_classes: int, in_channels: int = 3, width: int = 32,
             domain_hidden: list[int] | tuple[int, ...] = (100,)) -> DANNNet:
    """conv3x3 ``w``, pool, 2 x conv3x3 ``2w``, pool, 2 x conv3x3 ``4w``, global average pool -> (B, 4w)
    features; G_y 100-C. Every conv with BatchNorm. The pooled features do not depend on the input side."""
    w = width
    features = nn.Sequential(
        *_conv_bn(in_channels, w), nn.MaxPool2d(2),
        *_conv_bn(w, 2 * w), *_conv_bn(2 * w, 2 * w), nn.MaxPool2d(2),
        *_conv_bn(2 * w, 4 * w), *_conv_bn(4 * w, 4 * w),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 4w, h, w) -> (B, 4w)
    )
    classifier = nn.Sequential(nn.Linear(4 * w, 100), nn.ReLU(inplace=True), nn.Linear(100, num_classes))
    return DANNNet(features, classifier, domain_mlp(4 * w, domain_hidden))


def small_cnn(num_classes: int, image_size: int = 28, in_channels: int = 3, width: int = 32,
              batch_norm: bool = False, domain_hidden: list[int] | tuple[int, ...] = (100,)) -> DANNNet:
    """The paper's MNIST net (``width`` 32 -> channels 32 and 48); ``batch_norm`` after each conv
    (not in the paper; common in DANN re-implementations)."""
    c1, c2 = width, width * 3 // 2
    norm = (lambda c: nn.BatchNorm2d(c)) if batch_norm else (lambda c: nn.Identity())
    features = nn.Sequential(
        nn.Conv2d(in_channels, c1, 5), norm(c1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 5), norm(c2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(),  # (B, c2, h, w) -> (B, F)
    )
    dim = _flat_dim(features, in_channels, image_size)
    classifier = nn.Sequential(nn.Linear(dim, 100), nn.ReLU(inplace=True), nn.Linear(100, 100),
                               nn.ReLU(inplace=True), nn.Linear(100, num_classes))
    return DANNNet(features, classifier, domain_mlp(dim, domain_hidden))


def alexnet_dann(num_classes: int, weights: str | None = None, bottleneck: int = 256) -> DANNNet:
    """The paper's Office net: torchvision's AlexNet to fc7 (ImageNet ``weights``), a bottleneck, the heads."""
    net = alexnet()
    load_pretrained(net, "alexnet", weights, "model.init_args.weights", head="classifier.6.")
    fc = list(net.classifier.children())[:-1]  # drop fc8: dropout, fc6, relu, dropout, fc7, relu
    features = nn.Sequential(net.features, net.avgpool, nn.Flatten(), *fc,
                             nn.Linear(4096, bottleneck), nn.ReLU(inplace=True))
    classifier = nn.Linear(bottleneck, num_classes)
    domain = nn.Sequential(nn.Linear(bottleneck, 1024), nn.ReLU(inplace=True), nn.Dropout(0.5),
                           nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Dropout(0.5),
                           nn.Linear(1024, 1), nn.Flatten(0))
    return DANNNet(features, classifier, domain)
