"""Inputs and labels of the spatial pretext tasks (plain PyTorch): rotations, patch grids, permutations.

- ``rotations``: the four 90-degree rotations of every image, labelled 0..3 (Gidaris et al. 2018).
- ``grid_patches``: a ``g x g`` grid of cells, one jittered ``p x p`` patch per cell, so that
  neighbouring patches are separated by a random gap (Doersch et al. 2015 Sec. 3; Noroozi &
  Favaro 2016 Sec. 3.1: the gap stops the network from matching edges and textures across borders).
- ``relative_pairs``: the centre patch of a 3 x 3 grid against each of its 8 neighbours, labelled
  by the neighbour's position 0..7 (Doersch Fig. 2).
- ``hamming_permutations``: the jigsaw's permutation set, chosen greedily by Hamming distance
  (Noroozi Algorithm 1).
"""

from __future__ import annotations

import functools
import itertools
import math

import torch
from torch import Tensor

from contracts.errors import ConfigError

NEIGHBOURS = (0, 1, 2, 3, 5, 6, 7, 8)  # cells of a 3x3 grid around the centre cell 4, row-major


def rotations(images: Tensor) -> tuple[Tensor, Tensor]:
    """All four rotations by k x 90 degrees (anticlockwise) of square images.

    Args:
        images: ``(B, C, S, S)``.

    Returns:
        ``(rotated (4B, C, S, S), labels (4B,) int64)``, grouped by k: rows ``[kB, (k+1)B)`` hold
        every image rotated by k x 90 degrees, so the first B rows are the images themselves.
    """
    if images.shape[-1] != images.shape[-2]:
        raise ValueError(f"rotation prediction needs square images, got {tuple(images.shape[-2:])}")
    b = len(images)
    rotated = torch.cat([torch.rot90(images, k, dims=(-2, -1)) for k in range(4)])  # (4B, C, S, S)
    labels = torch.arange(4, device=images.device).repeat_interleave(b)  # (4B,)
    return rotated, labels


def grid_patches(images: Tensor, grid: int, patch: int, generator: torch.Generator | None = None) -> Tensor:
    """One ``patch x patch`` crop per cell of a ``grid x grid`` partition, at a random place in its cell.

    Args:
        images: ``(B, C, H, W)``; the cell side is ``H // grid`` (the remainder is cut off).
        grid: cells per side.
        patch: crop side, at most the cell side; ``cell - patch`` is the jitter range, and two
            neighbouring patches are between 0 and ``2 (cell - patch)`` pixels apart.
        generator: for reproducible offsets.

    Returns:
        ``(B, grid * grid, C, patch, patch)``, cells in row-major order.
    """
    b, _, h, w = images.shape
    cell = min(h, w) // grid
    if patch > cell or patch < 1:
        raise ConfigError(f"patch={patch} must lie in [1, {cell}]: a {h}x{w} image has {grid}x{grid} cells "
                          f"of {cell} px")
    n = grid * grid
    dev = images.device
    jitter = torch.randint(0, cell - patch + 1, (2, b, n), generator=generator).to(dev)  # (2, B, n) y, x
    start = torch.arange(grid, device=dev) * cell
    oy = start.repeat_interleave(grid).view(1, n) + jitter[0]  # (B, n) top row of each crop
    ox = start.repeat(grid).view(1, n) + jitter[1]  # (B, n) left column
    r = torch.arange(patch, device=dev)
    rows = (oy[..., None] + r)[..., :, None]  # (B, n, p, 1)
    cols = (ox[..., None] + r)[..., None, :]  # (B, n, 1, p)
    bi = torch.arange(b, device=dev).view(b, 1, 1, 1)
    out = images.permute(0, 2, 3, 1)[bi, rows, cols]  # (B, n, p, p, C)
    return out.permute(0, 1, 4, 2, 3).contiguous()  # (B, n, C, p, p)


def relative_pairs(patches: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Centre patch and each of its 8 neighbours, with the neighbour's position as the label.

    Args:
        patches: ``(B, 9, ...)`` from ``grid_patches(..., grid=3, ...)``.

    Returns:
        ``(centre (B, ...), neighbours (B, 8, ...), labels (B, 8) int64 in 0..7)``; label ``k``
        is cell ``NEIGHBOURS[k]`` (0 top-left, 1 top, 2 top-right, 3 left, 4 right, ... 7 bottom-right).
    """
    if patches.shape[1] != 9:
        raise ValueError(f"relative position needs a 3x3 grid (9 patches), got {patches.shape[1]}")
    idx = torch.tensor(NEIGHBOURS, device=patches.device)
    labels = torch.arange(8, device=patches.device).expand(len(patches), 8)
    return patches[:, 4], patches[:, idx], labels


def hamming_permutations(n_perms: int, n_tiles: int = 9, seed: int = 0) -> Tensor:
    """A set of permutations of ``n_tiles`` tiles, far apart in Hamming distance.

    Noroozi & Favaro's Algorithm 1 greedily adds the permutation farthest from the set chosen
    so far, starting from a random one. "Farthest" is taken here as the largest *minimum*
    distance to the set (ties broken by the largest summed distance, the paper's criterion, then
    by the lowest index): the set's minimum pairwise distance, which decides how hard two
    classes are to tell apart, is then as large as the greedy can make it (their Table 1: the
    minimum distance and the set size both drive transfer accuracy).

    Args:
        n_perms: size of the set (the paper: 100 of 9!; 1000 in their appendix).
        n_tiles: tiles per puzzle; every permutation of them is enumerated, so at most 10.
        seed: picks the first permutation.

    Returns:
        ``(n_perms, n_tiles)`` int64; row ``i`` says which original tile goes to position ``j``.
    """
    total = math.factorial(n_tiles)
    if not 1 <= n_perms <= total:
        raise ConfigError(f"num_permutations={n_perms}: a {n_tiles}-tile puzzle has only {total} permutations "
                          f"(choose 1..{total})")
    if n_tiles > 10:
        raise ConfigError(f"{n_tiles} tiles: enumerating {total} permutations is too large (at most 10 tiles)")
    return _greedy(n_perms, n_tiles, seed).clone()


@functools.lru_cache(maxsize=8)
def _greedy(n_perms: int, n_tiles: int, seed: int) -> Tensor:
    """Algorithm 1 (see ``hamming_permutations``); ~3 s for 100 of 9! on one core, so cached."""
    total = math.factorial(n_tiles)
    every = torch.tensor(list(itertools.permutations(range(n_tiles))), dtype=torch.int8)  # (n!, n)
    g = torch.Generator().manual_seed(seed)
    first = int(torch.randint(total, (1,), generator=g))
    chosen = [first]
    min_d = (every != every[first]).sum(1, dtype=torch.int32)  # (n!,) distance to the set
    sum_d = min_d.clone()
    for _ in range(n_perms - 1):
        score = min_d.to(torch.int64) * (n_tiles * n_perms + 1) + sum_d  # min first, then sum
        score[chosen] = -1
        j = int(score.argmax())
        chosen.append(j)
        d = (every != every[j]).sum(1, dtype=torch.int32)
        min_d = torch.minimum(min_d, d)
        sum_d += d
    return every[chosen].long()


def min_hamming(perms: Tensor) -> int:
    """Smallest Hamming distance between two distinct rows of ``perms (P, n)``."""
    d = (perms[:, None, :] != perms[None, :, :]).sum(-1)  # (P, P)
    d.fill_diagonal_(perms.shape[1] + 1)
    return int(d.min())
