"""NT-Xent (SimCLR) and InfoNCE with a queue (MoCo): pure functions over embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def nt_xent(
    z1: Tensor,
    z2: Tensor,
    temperature: float = 0.5,
    z1_all: Tensor | None = None,
    z2_all: Tensor | None = None,
    offset: int = 0,
) -> Tensor:
    """Normalised temperature-scaled cross-entropy (Chen et al. 2020, SimCLR, eq. 1).

    Each of the 2N local embeddings is an anchor; its positive is the other view of the same
    image and its 2M - 2 negatives are every other embedding of the global batch of M images
    (M = N on one process). The loss is the mean over the local anchors, so with equal N on
    every process the mean over processes is the one-process loss of the global batch.

    Args:
        z1: ``(N, D)`` first views of the local images (not necessarily normalised).
        z2: ``(N, D)`` second views, row i pairs with ``z1[i]``.
        temperature: tau in ``exp(sim / tau)``.
        z1_all: ``(M, D)`` first views of the global batch (``gather_with_grad(z1)``); default ``z1``.
        z2_all: ``(M, D)`` second views of the global batch; default ``z2``.
        offset: index of the local row 0 in the global batch (``rank * N``).

    Returns:
        Scalar loss.

    Raises:
        ValueError: mismatched shapes, or a global batch of one image (no negatives).
    """
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"nt_xent needs two (N, D) views of equal shape, got {tuple(z1.shape)} and {tuple(z2.shape)}")
    z1_all = z1 if z1_all is None else z1_all
    z2_all = z2 if z2_all is None else z2_all
    n, m = z1.shape[0], z1_all.shape[0]
    if m < 2:
        raise ValueError(
            f"NT-Xent needs at least 2 images in the global batch (got {m}): with one image there "
            "are no negatives; raise data.init_args.batch_size"
        )
    if z2_all.shape[0] != m or not 0 <= offset <= m - n:
        raise ValueError(f"local rows [{offset}, {offset + n}) do not fit a global batch of {m}")
    anchors = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D)
    keys = F.normalize(torch.cat([z1_all, z2_all]), dim=1)  # (2M, D)
    logits = anchors @ keys.T / temperature  # (2N, 2M)
    rows = torch.arange(n, device=z1.device) + offset  # global index of each local image
    self_col = torch.cat([rows, rows + m])  # (2N,) an anchor's own column
    pos_col = torch.cat([rows + m, rows])  # (2N,) its other view
    arange = torch.arange(2 * n, device=z1.device)
    logits = logits.clone()
    logits[arange, self_col] = float("-inf")  # sim(z, z) = 1/tau is not a candidate
    return F.cross_entropy(logits, pos_col)


def info_nce(q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.2) -> Tensor:
    """InfoNCE with a queue of negatives (He et al. 2020, MoCo, eq. 1).

    Args:
        q: ``(N, D)`` queries (normalised inside).
        k: ``(N, D)`` positive keys, row i for ``q[i]`` (no gradient needed).
        queue: ``(K, D)`` normalised negative keys from earlier batches.
        temperature: tau (0.07 in MoCo v1, 0.2 in v2).

    Returns:
        Scalar loss; the positive is class 0 of ``N`` (1 + K)-way classifications.
    """
    if q.ndim != 2 or q.shape != k.shape or queue.shape[1] != q.shape[1]:
        raise ValueError(f"info_nce shapes: q {tuple(q.shape)}, k {tuple(k.shape)}, queue {tuple(queue.shape)}")
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    pos = (q * k).sum(1, keepdim=True)  # (N, 1)
    neg = q @ queue.T  # (N, K)
    logits = torch.cat([pos, neg], 1) / temperature  # (N, 1 + K)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
