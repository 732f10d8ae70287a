"""MobileNet v1 (Howard et al. 2017), plain PyTorch (torchvision has only v2 and v3).

The paper's Table 1: a full 3x3/2 conv of 32 channels, then 13 depthwise-separable layers (a 3x3
depthwise conv and a 1x1 pointwise conv, each followed by BatchNorm and ReLU), global average
pooling and one linear layer. The width multiplier alpha thins every layer; the resolution
multiplier rho is the input side (224 rho), which this net takes as it comes. ``separable=False``
replaces each depthwise + pointwise pair by one full 3x3 conv with the same input, output and
stride: the "Conv MobileNet" of the paper's Table 4 (29.3 M parameters, 4866 M mult-adds).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

# Paper Table 1 after the first conv: (output channels, stride) of each separable layer.
LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
ALPHAS = (1.0, 0.75, 0.5, 0.25)  # the paper's width multipliers (Table 6)
Activation = Literal["relu", "relu6"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "relu6": nn.ReLU6}


def conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
            activation: Activation = "relu") -> nn.Sequential:
    """Conv (no bias: BatchNorm follows) + BN + ReLU (or ReLU6), the unit of every MobileNet layer."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), ACTIVATIONS[activation](inplace=True))


def separable_block(cin: int, cout: int, stride: int, activation: Activation = "relu") -> nn.Sequential:
    """Paper Fig. 3 right: 3x3 depthwise (one filter per channel) then 1x1 pointwise."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, activation=activation),
                         conv_bn(cin, cout, 1, activation=activation))


def is_depthwise(m: nn.Module) -> bool:
    """A convolution with one filter per input channel (groups == in_channels > 1)."""
    return isinstance(m, nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels


class MobileNetV1(nn.Module):
    """MobileNet v1.

    Args:
        num_classes: output logits.
        alpha: width multiplier, one of the paper's 1.0, 0.75, 0.5, 0.25.
        separable: depthwise-separable layers (the paper); False: full 3x3 convolutions instead.
        dropout: before the classifier (the paper names none; 0 = none).
        stem_stride: stride of the first full conv: 2 (the paper: 224 px ends at 7x7, the input / 32) or 1
            (small inputs, as CIFAR MobileNets do: 64 px ends at 4x4 instead of 2x2, 4x the mult-adds).
        activation: "relu" (the paper's Fig. 3) or "relu6" (min(max(x, 0), 6), the released TF models').

    Input ``(B, 3, H, W)``, any side >= 32 (224 rho in the paper); output ``(B, num_classes)``.

    Raises:
        ValueError: ``alpha`` not one of the paper's multipliers.
    """

    def __init__(self, num_classes: int = 1000, *, alpha: float = 1.0, separable: bool = True,
                 dropout: float = 0.0, stem_stride: int = 2, activation: Activation = "relu") -> None:
        super().__init__()
        if alpha not in ALPHAS:
            raise ValueError(f"alpha={alpha} is not one of the paper's width multipliers {ALPHAS}")
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride={stem_stride} must be 1 or 2")
        channels = round(32 * alpha)
        layers: list[nn.Module] = [conv_bn(3, channels, 3, stem_stride, activation=activation)]  # (B, 32a, H/s, W/s)
        for out, stride in LAYERS:
            out = round(out * alpha)
            layers.append(separable_block(channels, out, stride, activation) if separable
                          else conv_bn(channels, out, 3, stride, activation=activation))
            channels = out
        self.features = nn.Sequential(*layers)  # (B, 1024a, H/(16 s), W/(16 s))
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                        nn.Linear(channels, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He init on the fan-in, which for a depthwise filter is its 9 weights. torch's "fan_out"
                # ignores groups: it gives a depthwise filter C*9 as fan-out, a norm ~15x smaller than a
                # full conv filter's at C = 256 and, with BN after it, a ~200x larger effective step.
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))  # (B, 1024a, h, w) -> (B, num_classes)


def mult_adds(net: nn.Module, image_size: int, in_channels: int = 3) -> int:
    """Multiply-adds of one forward pass on one image, counted by torch's ``FlopCounterMode``
    (convolutions and matrix products, as the papers count them: FLOPs / 2), on the meta device."""
    meta = copy.deepcopy(net).to("meta").eval()  # shapes only: no memory, no arithmetic
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        meta(torch.empty(1, in_channels, image_size, image_size, device="meta"))
    return counter.get_total_flops() // 2
