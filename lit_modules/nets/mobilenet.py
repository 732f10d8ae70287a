"""MobileNet v1 (Howard et al. 2017): timm's separable net, and the paper's full-convolution twin by hand.

The paper's Table 1: a full 3x3/2 conv of 32 channels, then 13 depthwise-separable layers (a 3x3
depthwise conv and a 1x1 pointwise conv, each followed by BatchNorm and ReLU), global average
pooling and one linear layer. timm builds exactly this (``mobilenetv1_100``: its ``dsa`` blocks have a
pointwise activation and no skip connection; parameters and mult-adds equal the paper's Table 4/6 at
every alpha, ``tests/unit/test_ladder_nets.py``), so the separable net is timm's, built here from the
paper's layer list so that the width multiplier alpha and the shallow net of Table 10 are switches.
``separable=False`` is what timm lacks: each depthwise + pointwise pair replaced by one full 3x3 conv
with the same input, output and stride, the "Conv MobileNet" of Table 4 (29.3 M parameters, 4866 M
mult-adds). The resolution multiplier rho is the input side (224 rho), which both nets take as it comes.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Literal

import torch
from timm.models._efficientnet_builder import decode_arch_def, round_channels
from timm.models.efficientnet import EfficientNet
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

# Paper Table 1 after the first conv: (output channels, stride) of each separable layer.
LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
SHALLOW_DROPPED = range(6, 11)  # Table 10's "shallow MobileNet": the five 14x14x512 layers (at 224 px) removed
ALPHAS = (1.0, 0.75, 0.5, 0.25)  # the paper's width multipliers (Table 6)
Activation = Literal["relu", "relu6"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def layers(shallow: bool = False) -> tuple[tuple[int, int], ...]:
    """Table 1's separable layers, or Table 10's shallow net without the five stride-1 512-channel layers."""
    return tuple(lay for i, lay in enumerate(LAYERS) if not (shallow and i in SHALLOW_DROPPED))


def is_depthwise(m: nn.Module) -> bool:
    """A convolution with one filter per input channel (groups == in_channels > 1)."""
    return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels


def mobilenet_v1(num_classes: int = 1000, *, alpha: float = 1.0, separable: bool = True, shallow: bool = False,
                 dropout: float = 0.0, stem_stride: int = 2, activation: Activation = "relu",
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5) -> nn.Module:
    """MobileNet v1, separable (timm's ``EfficientNet`` with the paper's blocks) or with full convolutions.

    Args:
        num_classes: output logits.
        alpha: width multiplier, one of the paper's 1.0, 0.75, 0.5, 0.25.
        separable: depthwise-separable layers (the paper); False: full 3x3 convolutions instead (``ConvMobileNet``).
        shallow: Table 10's shallow MobileNet (the five 14x14x512 separable layers removed: 8 layers, not 13).
        dropout: before the classifier (the paper names none; 0 = none).
        stem_stride: stride of the first full conv: 2 (the paper: 224 px ends at 7x7, the input / 32) or 1
            (small inputs, as CIFAR MobileNets do: 64 px ends at 4x4 instead of 2x2, 4x the mult-adds).
        activation: "relu" (the paper's Fig. 3) or "relu6" (min(max(x, 0), 6), the released TF models').
        bn_momentum, bn_eps: BatchNorm's running-average momentum (torch's convention: 1 - TF's decay) and eps.

    Input ``(B, 3, H, W)``, any side >= 32 (224 rho in the paper); output ``(B, num_classes)``;
    ``forward_features`` gives ``(B, 1024 alpha, H / (16 stem_stride), W / (16 stem_stride))``.

    Raises:
        ValueError: ``alpha`` not one of the paper's multipliers, or ``stem_stride`` not 1 or 2.
    """
    if alpha not in ALPHAS:
        raise ValueError(f"alpha={alpha} is not one of the paper's width multipliers {ALPHAS}")
    if stem_stride not in (1, 2):
        raise ValueError(f"stem_stride={stem_stride} must be 1 or 2")
    norm = partial(nn.BatchNorm2d, momentum=bn_momentum, eps=bn_eps)
    if not separable:
        return ConvMobileNet(num_classes, alpha=alpha, shallow=shallow, dropout=dropout, stem_stride=stem_stride,
                             activation=activation, norm=norm)
    # timm's mobilenetv1 stages as block strings ("dsa": depthwise-separable, activation after the pointwise conv,
    # no skip); one string per layer keeps Table 1's order readable and lets `shallow` drop layers.
    arch = [[f"dsa_r1_k3_s{stride}_c{out}"] for out, stride in layers(shallow)]
    net = EfficientNet(decode_arch_def(arch), num_classes=num_classes, num_features=0, stem_size=32,
                       round_chs_fn=partial(round_channels, multiplier=alpha), norm_layer=norm,
                       act_layer=ACTIVATIONS[activation], drop_rate=dropout)
    net.conv_stem.stride = (stem_stride, stem_stride)  # timm's stem is 3x3/2 with static padding 1
    return net


class ConvMobileNet(nn.Module):
    """The paper's full-convolution MobileNet (Table 4's "Conv MobileNet"): every separable pair of Table 1 is one
    full 3x3 conv + BN + activation with the same channels and stride. Arguments as ``mobilenet_v1``; ``norm`` builds
    each BatchNorm. Input ``(B, 3, H, W)``, output ``(B, num_classes)``."""

    def __init__(self, num_classes: int = 1000, *, alpha: float = 1.0, shallow: bool = False, dropout: float = 0.0,
                 stem_stride: int = 2, activation: Activation = "relu",
                 norm: type[nn.Module] | partial = nn.BatchNorm2d) -> None:
        super().__init__()
        act = ACTIVATIONS[activation]
        unit = lambda cin, cout, stride: [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), norm(cout), act(inplace=True)]
        channels = round_channels(32, alpha)
        body = unit(3, channels, stem_stride)  # (B, 32a, H/s, W/s)
        for out, stride in layers(shallow):
            out = round_channels(out, alpha)
            body += unit(channels, out, stride)
            channels = out
        self.features = nn.Sequential(*body)  # (B, 1024a, H/(16 s), W/(16 s))
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)  # (B, 1024a, h, w)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, 1024a, h, w) -> (B, num_classes)


def mult_adds(net: nn.Module, image_size: int, in_channels: int = 3) -> int:
    """Multiply-adds of one forward pass on one image, counted by torch's ``FlopCounterMode``
    (convolutions and matrix products, as the papers count them: FLOPs / 2), on the meta device."""
    meta = copy.deepcopy(net).to("meta").eval()  # shapes only: no memory, no arithmetic
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(torch.empty(1, in_channels, image_size, image_size, device="meta"))
    return counter.get_total_flops() // 2
