"""Feature extractors for the R-CNN detectors: VGG-16 (Faster R-CNN paper), ResNet-FPN, a small CNN.

Each builder returns a module with ``out_channels`` whose forward gives a feature map (or an
ordered dict of FPN levels), plus the feature names and anchor sizes that suit it. ImageNet weights of VGG-16 and the ResNets
are a torchvision weight name (``IMAGENET1K_V1``, through torch.hub's cache) or a local state dict
in torchvision's key format (``lit_modules.nets.pretrained``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

from torch import nn
from torchvision.models import resnet50, resnet101, vgg16
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import FrozenBatchNorm2d

from contracts.errors import ConfigError
from lit_modules.nets.pretrained import load_pretrained, load_state, resolve

# The RGB normalisation every torchvision ImageNet backbone was trained with ([0, 1] scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BackboneName = Literal["small", "vgg16", "resnet50_fpn", "resnet101_fpn"]


class Backbone(NamedTuple):
    body: nn.Module  # has .out_channels
    featmap_names: list[str]
    anchor_sizes: tuple[tuple[int, ...], ...]  # one tuple per feature map


def load_local(module: nn.Module, path: str | None, what: str) -> None:
    """Load a state dict from a local file (a Lightning checkpoint's ``state_dict`` works too)."""
    if path is None:
        return
    if not Path(path).is_file():
        raise ConfigError(f"{what} weights file {path!r} does not exist (a local file: nothing is downloaded)")
    module.load_state_dict(load_state(path))


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallCNN(nn.Sequential):
    """Conv-BN-ReLU pairs, each pair halving the side: a CPU-sized backbone for ShapesWorld.

    Args:
        width: channels of the first stage (doubled per stage, capped at 4x).
        stride: output stride, 8 or 16 (3 or 4 stages).
    """

    def __init__(self, width: int = 32, stride: int = 8) -> None:
        stages = {8: 3, 16: 4, 32: 5}[stride]
        layers, cin = [], 3
        for s in range(stages):
            cout = width * min(2 ** s, 4)
            layers += [_conv(cin, cout, 2), _conv(cout, cout, 1)]
            cin = cout
        super().__init__(*layers)
        self.out_channels = cin


def build_backbone(name: BackboneName, weights_backbone: str | None = None, width: int = 32,
                   trainable_layers: int = 3) -> Backbone:
    """The feature extractor ``name`` with ImageNet weights from ``weights_backbone`` if given.

    Args:
        name: "small" (stride 8, CPU demo), "vgg16" (conv5_3, stride 16, 512 channels: the paper),
            "resnet50_fpn" / "resnet101_fpn" (P2-P6, 256 channels: the reference reproductions).
        weights_backbone: ImageNet classifier weights: a torchvision weight name of the architecture
            (``IMAGENET1K_V1``; downloaded into torch.hub's cache when online) or a local state dict
            (torchvision key names). "small" takes only a local file.
        width: first-stage channels of "small".
        trainable_layers: ResNet stages left trainable with pretrained weights (torchvision's 3);
            all train, with ordinary BatchNorm, from scratch.
    """
    if name == "small":
        body = SmallCNN(width, 8)
        load_local(body, weights_backbone, "backbone")
        return Backbone(body, ["0"], ((16, 32, 64),))
    arch = {"vgg16": "vgg16", "resnet50_fpn": "resnet50", "resnet101_fpn": "resnet101"}[name]
    key = "model.init_args.weights_backbone"
    if weights_backbone is not None:
        resolve(arch, weights_backbone, key)  # before the build: a missing file stops the run at once
    if name == "vgg16":
        net = vgg16()
        load_pretrained(net, arch, weights_backbone, key)
        body = net.features[:-1]  # drop pool5: conv5_3 at stride 16, as in the paper
        for layer in list(body)[:10] if weights_backbone else []:  # paper: conv1-2 stay frozen
            layer.requires_grad_(False)
        body.out_channels = 512
        return Backbone(body, ["0"], ((128, 256, 512),))
    pretrained = weights_backbone is not None
    net = (resnet50 if name == "resnet50_fpn" else resnet101)(norm_layer=FrozenBatchNorm2d if pretrained else nn.BatchNorm2d)
    load_pretrained(net, arch, weights_backbone, key)
    body = _resnet_fpn_extractor(net, trainable_layers if pretrained else 5)
    return Backbone(body, ["0", "1", "2", "3"], ((32,), (64,), (128,), (256,), (512,)))
