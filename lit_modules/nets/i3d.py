"""I3D (Carreira & Zisserman 2017): a 2D ImageNet architecture inflated into 3D; plain torch.

Every ``k x k`` conv becomes ``k x k x k`` (``time_kernel`` overrides), its weights copied
along time and divided by the temporal size, so on a "boring video" (one frame repeated) every
layer computes what the 2D layer computed on the frame: the inflated net starts from the image
net's function. Pools become ``1 x k x k`` where time is to be kept, ``k x k x k`` otherwise;
BN, ReLU, linear layers are unchanged. Time padding is ``"replicate"`` by default, which keeps
the boring-video identity exact at the clip's ends too (zero padding, as in TF's "SAME", only
keeps it away from the ends).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import googlenet

TimePadding = Literal["replicate", "zeros"]


class InflatedConv3d(nn.Conv3d):
    """A Conv3d whose temporal padding may replicate the end frames instead of adding zeros."""

    def __init__(self, *args, time_padding: int = 0, padding_mode_t: TimePadding = "replicate", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.time_pad, self.mode_t = time_padding, padding_mode_t

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pad:
            if self.mode_t == "replicate":
                x = F.pad(x, (0, 0, 0, 0, self.time_pad, self.time_pad), mode="replicate")
            else:
                x = F.pad(x, (0, 0, 0, 0, self.time_pad, self.time_pad))
        return super().forward(x)


def inflate_conv(conv: nn.Conv2d, time_kernel: int | None = None, time_stride: int = 1,
                 time_padding: TimePadding = "replicate") -> InflatedConv3d:
    """``k x k`` -> ``kt x k x k`` conv with the 2D weights repeated over time and divided by ``kt``."""
    kt = time_kernel if time_kernel is not None else conv.kernel_size[0]
    if not isinstance(conv.padding, tuple):
        raise TypeError(f"cannot inflate a conv with padding={conv.padding!r} (give it as numbers)")
    out = InflatedConv3d(conv.in_channels, conv.out_channels, (kt, *conv.kernel_size), (time_stride, *conv.stride),
                         (0, *conv.padding), (1, *conv.dilation), conv.groups, conv.bias is not None,
                         time_padding=kt // 2, padding_mode_t=time_padding)
    with torch.no_grad():
        out.weight.copy_(conv.weight.unsqueeze(2).expand(-1, -1, kt, -1, -1) / kt)  # (O, I, kt, k, k)
        if conv.bias is not None:
            out.bias.copy_(conv.bias)
    return out


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def inflate(net: nn.Module, time_kernel: int | None = None, keep_time: tuple[str, ...] = (),
            time_strides: dict[str, int] | None = None, time_padding: TimePadding = "replicate") -> nn.Module:
    """A copy of ``net`` with every 2D layer inflated to 3D (convs, BN, max/avg and adaptive pools).

    Args:
        net: a 2D network whose ``forward`` only calls its layers, concatenates on dim 1 and
            flattens from dim 1 (torchvision's ResNets and GoogLeNet do).
        time_kernel: temporal size of every inflated conv (None: the conv's spatial size, I3D's N x N x N).
        keep_time: names (``named_modules``) of pools that stay 1 in time (I3D: the first two).
        time_strides: temporal stride by module name (I3D: 2 in conv1 and two later pools).
        time_padding: "replicate" (exact boring-video identity) or "zeros".
    """
    net, strides = copy.deepcopy(net), time_strides or {}
    for name, module in list(net.named_modules()):
        for child_name, child in list(module.named_children()):
            full = f"{name}.{child_name}" if name else child_name
            st = strides.get(full, 1)
            new: nn.Module | None = None
            if isinstance(child, nn.Conv2d):
                new = inflate_conv(child, time_kernel, st, time_padding)
            elif isinstance(child, nn.BatchNorm2d):
                new = nn.BatchNorm3d(child.num_features, child.eps, child.momentum, child.affine,
                                     child.track_running_stats)
                new.load_state_dict(child.state_dict())
            elif isinstance(child, nn.MaxPool2d | nn.AvgPool2d):
                k, s, p = _pair(child.kernel_size), _pair(child.stride), _pair(child.padding)
                kt = 1 if full in keep_time else k[0]
                pt = 0 if full in keep_time else p[0]
                if isinstance(child, nn.MaxPool2d):
                    new = nn.MaxPool3d((kt, *k), (st, *s), (pt, *p), ceil_mode=child.ceil_mode)
                else:
                    new = nn.AvgPool3d((kt, *k), (st, *s), (pt, *p), ceil_mode=child.ceil_mode,
                                       count_include_pad=False)
            elif isinstance(child, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
                size = (1, *_pair(child.output_size))
                new = nn.AdaptiveAvgPool3d(size) if isinstance(child, nn.AdaptiveAvgPool2d) else nn.AdaptiveMaxPool3d(size)
            if new is not None:
                setattr(module, child_name, new)
    return net


def i3d_googlenet(num_classes: int, dropout: float = 0.5, time_padding: TimePadding = "replicate",
                  net2d: nn.Module | None = None) -> nn.Module:
    """I3D: torchvision's GoogLeNet (Inception-v1, BN after each conv as in the paper's BN-Inception
    stand-in) inflated; ``net2d`` with ImageNet weights gives the paper's initialisation.

    As in the paper: 7x7x7 conv1 with stride 2 in time, the first two max-pools 1x3x3, the later
    ones 3x3x3 (stride 2 in time before inception 4 and 5), global average pool over (T, H, W).
    """
    net2d = net2d if net2d is not None else googlenet(weights=None, aux_logits=False, init_weights=True,
                                                       transform_input=False, num_classes=num_classes,
                                                       dropout=dropout)
    return inflate(net2d, keep_time=("maxpool1", "maxpool2"),
                   time_strides={"conv1.conv": 2, "maxpool3": 2, "maxpool4": 2}, time_padding=time_padding)
