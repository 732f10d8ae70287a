"""The three parts of DANN (Ganin & Lempitsky 2015, Fig. 1): feature extractor G_f, label predictor
G_y and domain classifier G_d, plain PyTorch.

Two architectures from the paper: ``small_cnn`` (its MNIST -> MNIST-M net, supplementary Fig.:
conv5x5-32, max-pool, conv5x5-48, max-pool; G_y 100-100-C; G_d 100-1) and ``alexnet`` (its
Office net: AlexNet up to fc7 + a 256-unit bottleneck; G_y one linear layer; G_d 1024-1024-1).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torchvision.models import alexnet

from lit_modules.nets.pretrained import load_pretrained

Arch = Literal["small_cnn", "alexnet"]


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


def small_cnn(num_classes: int, image_size: int = 28, in_channels: int = 3, width: int = 32,
              batch_norm: bool = False) -> DANNNet:
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
    domain = nn.Sequential(nn.Linear(dim, 100), nn.ReLU(inplace=True), nn.Linear(100, 1), nn.Flatten(0))
    return DANNNet(features, classifier, domain)


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
