"""A classification checkpoint as a plain net on pixels in [0, 1], ready for gradients.

Every method here works in pixel space so that an epsilon of 8/255 means eight grey levels, and
on a copy of the net whose ReLUs are not in place (captum's guided backprop, deconvnet and layer
hooks need each activation kept).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
import yaml
from torch import Tensor, nn
from torchvision.models import ResNet

from contracts.errors import ConfigError
from experiments.build import build, load_weights
from lit_modules.classification import ClassificationModule
from lit_modules.nets.ssl import SmallCNN
from lit_modules.ssl import SSLModule


class PixelModel(nn.Module):
    """``net((x - mean) / std)``: logits ``(B, C)`` of pixels ``(B, 3, H, W)`` (or clips
    ``(B, 3, T, H, W)``) in [0, 1]."""

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        shape = (1, 3) + (1,) * (x.ndim - 2)  # (1, 3, 1, 1) for images, (1, 3, 1, 1, 1) for clips
        return self.net((x - self.mean.view(shape)) / self.std.view(shape))


class ProbedEncoder(nn.Module):
    """A self-supervised encoder read through its online linear probe: a classifier to explain.

    ``features`` (the encoder up to its last conv map), ``avgpool`` and ``classifier`` (the
    probe with its affine-free BatchNorm folded into the linear layer, exact in eval mode), so
    CAM applies as to a CAM-shaped classifier. Output ``(B, num_classes)`` logits.
    """

    def __init__(self, backbone: nn.Module, probe: nn.Sequential) -> None:
        super().__init__()
        if isinstance(backbone, SmallCNN):
            self.features = backbone.features
        elif isinstance(backbone, ResNet):
            b = backbone
            self.features = nn.Sequential(b.conv1, b.bn1, b.relu, b.maxpool, b.layer1, b.layer2, b.layer3, b.layer4)
        else:
            raise ConfigError(f"explain knows no conv map of a {type(backbone).__name__} encoder")
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        bn, linear = probe[0], probe[1]
        scale = (bn.running_var + bn.eps).rsqrt()  # (F,) eval-mode BN: (f - mean) * scale
        self.classifier = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            self.classifier.weight.copy_(linear.weight * scale)
            self.classifier.bias.copy_(linear.bias - (linear.weight * scale) @ bn.running_mean)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def explainable(net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> PixelModel:
    """A frozen eval-mode copy of ``net`` on pixels, with out-of-place ReLUs."""
    net = copy.deepcopy(net).float().to(memory_format=torch.contiguous_format)
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    model = PixelModel(net, mean, std).eval()
    model.requires_grad_(False)
    return model


def randomised(model: PixelModel, seed: int = 0) -> PixelModel:
    """The same architecture with every weight re-drawn (Adebayo 2018's full randomisation)."""
    torch.manual_seed(seed)
    out = copy.deepcopy(model)
    for m in out.net.modules():
        if hasattr(m, "reset_parameters") and m is not out.net:
            m.reset_parameters()
    out.requires_grad_(False)
    return out.eval()


def conv_layers(model: PixelModel) -> dict[str, nn.Module]:
    """The conv layers (2D, or 3D in video nets) by their name in the net (``features.10``), input to output."""
    return {name: m for name, m in model.net.named_modules() if isinstance(m, nn.Conv2d | nn.Conv3d)}


def pick_layer(model: PixelModel, name: str | None) -> tuple[str, nn.Module]:
    """Conv layer ``name``, or by default the last one; an unknown name lists the valid ones.

    A ReLU module's name is accepted too: its output is the rectified map the Grad-CAM paper's
    Caffe nets hand on (their ReLUs run in place on the conv's blob), where a conv layer's own
    output is the map before rectification.
    """
    layers = conv_layers(model)
    if not layers:
        raise ConfigError("this net has no conv layer for Grad-CAM / DeepDream")
    if name is None:
        name = next(reversed(layers))
    relus = {n: m for n, m in model.net.named_modules() if isinstance(m, nn.ReLU)}
    if name not in layers and name in relus:
        return name, relus[name]
    if name not in layers:
        raise ConfigError(f"--layer {name!r} is not a conv layer of this net; valid: {', '.join(layers)} "
                          "(or a ReLU module after one, for its rectified map)")
    return name, layers[name]


def load_checkpoint(module: L.LightningModule, ckpt_path: str) -> None:
    """Load a checkpoint of the config's classifier into ``module``; any other module's is a ``ConfigError``."""
    def has_net(weights: dict) -> None:
        if not any(k.startswith("net.") for k in weights):
            raise ConfigError(f"--ckpt_path {ckpt_path}: its module has no classification net "
                              f"(keys start {sorted({k.split('.')[0] for k in weights})})")

    load_weights(module, ckpt_path, ignore=lambda key: not key.startswith("net."), check=has_net)


def load_classifier(configs: list[str], ckpt_path: str, overrides: Sequence[str] = ()
                    ) -> tuple[PixelModel, L.LightningDataModule]:
    """The config's classifier with the checkpoint's weights, on pixels, and its datamodule."""
    module, dm, _ = build(configs, list(overrides))
    if not isinstance(module, ClassificationModule | SSLModule):
        raise ConfigError(f"{type(module).__name__} has no classification head: explain needs a "
                          "classification module (AlexNet, VGG, ViT) or a self-supervised encoder with its probe "
                          "(SimCLR, MoCo)")
    if isinstance(module, SSLModule):
        load_weights(module, ckpt_path, ignore=lambda key: not key.startswith(("backbone.", "probe.")))
        net = ProbedEncoder(module.backbone, module.probe)
    else:
        load_checkpoint(module, ckpt_path)
        net = module.net
    mean, std = dm._stats()
    return explainable(net, mean, std), dm


def load_run(run: str | Path, ckpt: str = "last.ckpt", overrides: Sequence[str] = ()
             ) -> tuple[PixelModel, L.LightningDataModule]:
    """The classifier of a run folder (its ``config.yaml`` and ``checkpoints/<ckpt>``), for notebooks.

    The saved config also holds ``fit``'s own keys (``ckpt_path``, ``runs_dir``...); only the
    model and data sections are rebuilt.
    """
    run = Path(run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    kept = {k: cfg[k] for k in ("seed_everything", "model", "data") if k in cfg}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(yaml.safe_dump(kept))
        return load_classifier([str(path)], str(run / "checkpoints" / ckpt), overrides)
