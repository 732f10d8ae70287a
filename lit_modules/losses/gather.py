"""Gathering tensors from every process, with or without gradients (plain ``torch.distributed``).

Contrastive losses take their negatives from the whole global batch, so each process needs
every process's embeddings. ``gather_with_grad`` keeps the autograd graph: in backward each
process receives the *sum* over processes of the gradients flowing into its own slice, which
is what DDP's gradient averaging expects (see ``nt_xent``'s note on the loss of local rows).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` when no process group is running."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(x: Tensor) -> Tensor:
    """All-gather ``x`` ``(N, ...)`` from W processes into ``(W*N, ...)``, rank order, with gradients.

    Every process must pass the same shape. On one process ``x`` is returned unchanged.
    """
    _, size = world()
    if size == 1:
        return x
    # torch.distributed.nn keeps the graph (backward = reduce-scatter of the gradients, summed);
    # the plain dist.all_gather would cut it and leave the negatives from other processes constant.
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), 0)  # W x (N, ...) -> (W*N, ...)


@torch.no_grad()
def gather_no_grad(x: Tensor) -> Tensor:
    """All-gather ``x`` ``(N, ...)`` into ``(W*N, ...)`` without gradients (keys, labels, banks)."""
    _, size = world()
    if size == 1:
        return x
    out = [torch.empty_like(x) for _ in range(size)]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, 0)  # (W*N, ...)


@torch.no_grad()
def gather_uneven(x: Tensor) -> Tensor:
    """All-gather ``x`` ``(N_r, ...)`` whose first size may differ per process (evaluation shards of
    a split that does not divide by the world size) into ``(sum N_r, ...)``, rank order."""
    _, size = world()
    if size == 1:
        return x
    n = torch.tensor([x.shape[0]], device=x.device)
    counts = [torch.zeros_like(n) for _ in range(size)]
    dist.all_gather(counts, n)
    most = int(max(c.item() for c in counts))
    padded = torch.zeros((most, *x.shape[1:]), dtype=x.dtype, device=x.device)
    padded[: x.shape[0]] = x
    out = [torch.empty_like(padded) for _ in range(size)]
    dist.all_gather(out, padded)
    return torch.cat([o[: int(c.item())] for o, c in zip(out, counts, strict=True)], 0)
