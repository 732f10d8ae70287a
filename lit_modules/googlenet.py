"""GoogLeNet / Inception v1 — "Going Deeper with Convolutions" (Szegedy et al., CVPR 2015).

The idea: a deep and wide net at a small cost, from inception modules whose 1x1 convolutions
reduce the channels before the 3x3 and 5x5 ones (about 12x fewer parameters than AlexNet), and
two auxiliary classifiers on intermediate layers whose losses, weighted 0.3, push gradient into
the middle of the net during training; at test time they are dropped. The net is
``lit_modules.nets.googlenet.GoogLeNet``.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from lit_modules.classification import ClassificationModule
from lit_modules.nets.googlenet import GoogLeNet, GoogLeNetOutput


class GoogLeNetModule(ClassificationModule):
    """GoogLeNet classifier with auxiliary heads (``configs/googlenet/imagenet.yaml``).

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s. Training
    loss: ``CE(main) + aux_weight * (CE(aux1) + CE(aux2))``, logged as ``train/loss`` (the total)
    and ``train/main_loss``; validation and test see the main classifier only.

    Args:
        num_classes: classes in the data.
        aux_logits: build and train the two auxiliary classifiers (the paper); False: neither.
        aux_weight: weight of each auxiliary loss (0.3 = paper).
        batch_norm: conv + BN + ReLU units (torchvision's) instead of the paper's conv + ReLU.
        width: channel multiplier (1.0 = paper).
        aux_fc_dim: the auxiliary heads' hidden FC width (1024 = paper).
        dropout: before the last linear layer (0.4 = paper).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        aux_weight: float = 0.3,
        batch_norm: bool = False,
        width: float = 1.0,
        aux_fc_dim: int = 1024,
        dropout: float = 0.4,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = GoogLeNet(num_classes, aux_logits=aux_logits, batch_norm=batch_norm, width=width,
                             aux_fc_dim=aux_fc_dim, dropout=dropout)

    def training_loss(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        out = self(images)  # GoogLeNetOutput in training with aux heads, else logits (B, C)
        logits = out.logits if isinstance(out, GoogLeNetOutput) else out
        smoothing = self.hparams.label_smoothing
        loss = main = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        if isinstance(out, GoogLeNetOutput):
            aux = F.cross_entropy(out.aux1, labels, label_smoothing=smoothing) \
                + F.cross_entropy(out.aux2, labels, label_smoothing=smoothing)
            loss = main + self.hparams.aux_weight * aux
        self.log("train/main_loss", main)
        return loss, logits
