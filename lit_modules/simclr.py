"""SimCLR — "A Simple Framework for Contrastive Learning of Visual Representations" (Chen et al. 2020).

The idea: two strong augmentations of each image should map close together and away from
every other image in the batch. An encoder f and a projection MLP g give z = g(f(x)); NT-Xent
(temperature-scaled cross-entropy over cosine similarities) picks each view's partner among
the 2M - 1 other embeddings of the *global* batch. Negatives are gathered from every process
with gradients, so 2 processes x N images optimise exactly the loss of one process with 2N.
The representation kept afterwards is f's output, before the projection.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lit_modules.losses.gather import gather_with_grad, world
from lit_modules.losses.nt_xent import nt_xent
from lit_modules.nets.ssl import projection_head
from lit_modules.ssl import SSLModule


class SimCLR(SSLModule):
    """SimCLR; the paper's ImageNet recipe (LARS, lr 0.3 x B/256, wd 1e-6) is ``configs/simclr/imagenet.yaml``.

    The encoder, optimiser and evaluation arguments are ``SSLModule``'s, passed on by keyword. Under DDP
    set ``trainer.sync_batchnorm: true``: the paper aggregates BN statistics over all devices
    so that a view cannot find its partner through batch statistics of its own device.

    Args:
        temperature: NT-Xent tau (paper: 0.1 at batch 4096, 0.5 on CIFAR-10; Table 5).
        projection: use the MLP head g (paper Fig. 8: no projection is ~10 points worse).
        proj_hidden: hidden width of g (2048 for ResNet-50).
        proj_dim: output size of g (128 in the paper).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        temperature: float = 0.1,
        projection: bool = True,
        proj_hidden: int = 2048,
        proj_dim: int = 128,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.head, _ = projection_head(self.feat_dim, proj_hidden, proj_dim, enabled=projection)

    def ssl_loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        n = len(x1)
        h = self.backbone(torch.cat([x1, x2]))  # (2N, F): one pass, BN statistics over both views
        z1, z2 = self.head(h).chunk(2)  # (N, D) each
        rank, _ = world()
        loss = nt_xent(z1, z2, self.hparams.temperature, gather_with_grad(z1), gather_with_grad(z2), offset=rank * n)
        return loss, h[:n]
