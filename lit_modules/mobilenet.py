"""MobileNet v1 — "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications" (Howard et al. 2017).

The idea: factor each convolution into a depthwise 3x3 (one filter per channel) and a pointwise
1x1 that mixes channels, which costs 8-9x fewer mult-adds for about 1 % of accuracy (paper Table
4), then trade accuracy for cost smoothly with two knobs: the width multiplier alpha (channels)
and the resolution multiplier rho (the input side, 224 rho: ``data.init_args.image_size``). The
net is ``lit_modules.nets.mobilenet.mobilenet_v1`` (timm's separable net); ``separable: false`` is the
paper's full-conv control, ``shallow: true`` the paper's shallow net (Table 10). Each run records its mult-adds per image as ``val/mult_adds_m`` (millions, at the
validation images' size) so a sweep's table carries the cost beside the accuracy.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.nets.mobilenet import ALPHAS, Activation, is_depthwise, mobilenet_v1, mult_adds


class MobileNetModule(ClassificationModule):
    """MobileNet v1 classifier (``configs/mobilenet/imagenet.yaml``: the paper's 1.0 MobileNet-224).

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s.

    Args:
        num_classes: classes in the data.
        alpha: width multiplier, one of 1.0, 0.75, 0.5, 0.25 (paper Table 6).
        separable: depthwise-separable convolutions (the paper); False: full 3x3 convolutions.
        shallow: the paper's shallow MobileNet (Table 10: the five 14x14x512 separable layers removed).
        dropout: before the classifier (0 = none).
        stem_stride: 2 (the paper) or 1 (small inputs: 64 px ends at 4x4, as CIFAR MobileNets).
        activation: "relu" (the paper) or "relu6" (the released TF models).
        bn_momentum: BatchNorm's running-average momentum, torch's convention (1 - TF's decay: the TF
            EfficientNet/timm default 0.01; the released TF MobileNets' 0.9997 decay is 3e-4).
        bn_eps: BatchNorm's eps (TF models: 1e-3).
        depthwise_weight_decay: weight decay on the depthwise filters; None: ``weight_decay`` like every
            other weight. The paper (Sec. 3.4): "very little or no weight decay (l2 regularization) on
            the depthwise filters since their are so few parameters in them".
    """

    method_label = "MobileNet v1"

    def __init__(self, num_classes: int = 1000, alpha: float = 1.0, separable: bool = True, shallow: bool = False,
                 dropout: float = 0.0, stem_stride: int = 2, activation: Activation = "relu",
                 bn_momentum: float = 0.1, bn_eps: float = 1e-5, depthwise_weight_decay: float | None = None,
                 **kwargs: Any) -> None:
        if alpha not in ALPHAS:
            raise ConfigError(f"model.init_args.alpha={alpha} is not one of the paper's width multipliers "
                              f"{', '.join(map(str, ALPHAS))}")
        if stem_stride not in (1, 2):
            raise ConfigError(f"model.init_args.stem_stride={stem_stride} must be 1 or 2")
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = mobilenet_v1(num_classes, alpha=alpha, separable=separable, shallow=shallow, dropout=dropout,
                                stem_stride=stem_stride, activation=activation, bn_momentum=bn_momentum, bn_eps=bn_eps)
        self._mult_adds: float | None = None

    def optimizer_groups(self) -> list[dict[str, Any]]:
        """The base's groups (decay on weights, none on biases and BN; ``lr_mult`` blocks), each with its
        depthwise filters split off into a twin group at ``depthwise_weight_decay`` when that is set."""
        groups = super().optimizer_groups()
        dw_decay = self.hparams.depthwise_weight_decay
        if dw_decay is None:
            return groups
        depthwise = {id(m.weight) for m in self.net.modules() if is_depthwise(m)}
        out: list[dict[str, Any]] = []
        for g in groups:
            dw = [p for p in g["params"] if id(p) in depthwise]
            rest = [p for p in g["params"] if id(p) not in depthwise]
            out += [{**g, "params": rest}] if rest else []
            out += [{**g, "params": dw, "weight_decay": dw_decay}] if dw else []
        return out

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        if self._mult_adds is None:
            self._mult_adds = mult_adds(self.net, batch[0].shape[-1]) / 1e6
        self.log("val/mult_adds_m", self._mult_adds)
