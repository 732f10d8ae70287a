"""MoCo v2 — "Improved Baselines with Momentum Contrastive Learning" (Chen, Fan, Girshick & He 2020).

The idea (MoCo, He et al. 2020): contrast a query against a large, consistent dictionary of
keys. Keys come from a *momentum* copy of the encoder (theta_k <- m theta_k + (1 - m) theta_q),
and a queue keeps the keys of the last K images as negatives, so the dictionary is much larger
than the batch. v2 adds SimCLR's MLP head, blur augmentation and a cosine schedule.

Shuffling BN (paper Sec. 3.3): the key encoder sees the global batch in a random order split
across processes, so a query and its key never share batch statistics. On one process there
is nothing to shuffle across; ``bn_groups`` then splits the shuffled key batch into groups
with their own BN statistics (the SplitBatchNorm of the official CIFAR demo, done by
forwarding the groups separately). With W processes the keys get W x ``bn_groups`` groups.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from lit_modules.losses.gather import gather_no_grad, world
from lit_modules.losses.nt_xent import info_nce
from lit_modules.nets.ssl import projection_head
from lit_modules.ssl import SSLModule


class MoCoV2(SSLModule):
    """MoCo v2; defaults are the paper's ImageNet recipe (SGD 0.03 at batch 256, wd 1e-4, tau 0.2).

    The encoder, optimiser and evaluation arguments are documented on ``SSLModule``.

    Args:
        temperature: InfoNCE tau (0.2 in v2).
        queue_size: K negatives kept (65536).
        key_momentum: m of the momentum encoder (0.999).
        proj_hidden: hidden width of the MLP head (2048).
        proj_dim: embedding size (128).
        bn_groups: BN groups of the key batch on each process (see the module docstring).
    """

    method_label = "MoCo v2"  # the report's Method column (experiments.method)

    def __init__(
        self,
        num_classes: int = 1000,
        temperature: float = 0.2,
        queue_size: int = 65536,
        key_momentum: float = 0.999,
        proj_hidden: int = 2048,
        proj_dim: int = 128,
        bn_groups: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.head, _ = projection_head(self.feat_dim, proj_hidden, proj_dim, batch_norm=False)
        self.key_backbone = copy.deepcopy(self.backbone).requires_grad_(False)
        self.key_head = copy.deepcopy(self.head).requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, proj_dim), dim=1))  # (K, D)
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def ssl_loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        h1 = self.backbone(x1)  # (N, F)
        q = self.head(h1)  # (N, D)
        with torch.no_grad():
            self._momentum_update()
            k = F.normalize(self._keys(x2), dim=1)  # (N, D)
        loss = info_nce(q, k, self.queue.clone(), self.hparams.temperature)
        self._enqueue(gather_no_grad(k))
        return loss, h1

    @torch.no_grad()
    def _momentum_update(self) -> None:
        m = self.hparams.key_momentum
        for online, key in ((self.backbone, self.key_backbone), (self.head, self.key_head)):
            for p, pk in zip(online.parameters(), key.parameters()):
                pk.mul_(m).add_(p.detach(), alpha=1 - m)

    @torch.no_grad()
    def _keys(self, x: Tensor) -> Tensor:
        """Key embeddings of ``x`` (N, 3, H, W) computed on a shuffled global batch (shuffling BN)."""
        rank, size = world()
        n = len(x)
        x_all = gather_no_grad(x)  # (W*N, 3, H, W)
        perm = torch.randperm(len(x_all), device=x.device)
        if size > 1:
            dist.broadcast(perm, 0)  # every process must use the same permutation
        mine = x_all[perm[rank * n:(rank + 1) * n]]  # this process's share of the shuffled batch
        k = torch.cat([self.key_head(self.key_backbone(c)) for c in mine.chunk(self.hparams.bn_groups)])
        k_all = gather_no_grad(k)  # (W*N, D), row j is the key of x_all[perm[j]]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(len(perm), device=perm.device)
        return k_all[inverse[rank * n:(rank + 1) * n]]  # back to this process's own images

    @torch.no_grad()
    def _enqueue(self, keys: Tensor) -> None:
        idx = (self.queue_ptr + torch.arange(len(keys), device=keys.device)) % len(self.queue)
        self.queue[idx] = keys  # oldest keys out, newest in
        self.queue_ptr.copy_((self.queue_ptr + len(keys)) % len(self.queue))
