"""Jigsaw puzzles — "Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles" (Noroozi & Favaro 2016).

The idea: cut the image into a 3 x 3 grid of tiles, shuffle them by one permutation of a fixed
set, and ask which permutation it was. Solving the puzzle needs to know what the parts are and
how they fit. The "context-free network" (Sec. 3) encodes each tile alone with shared weights and
only then joins the nine tile features, so no early layer sees across tiles. The permutation set
is chosen greedily by Hamming distance (Algorithm 1; ``ops.pretext.hamming_permutations``): more
and farther-apart permutations make the task harder and the features better (Table 1). Tiles are
cropped with random gaps (no continuing edges) and normalised each by its own mean and std
(Sec. 3.2: no shortcut through shared low-level statistics). Patch passes leave BN's running
statistics to a no-gradient pass over the whole images (``nets.pretext.frozen_bn_stats``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.nets.pretext import classifier_head, frozen_bn_stats, per_tile_normalise
from lit_modules.ops.pretext import grid_patches, hamming_permutations
from lit_modules.pretext import PretextModule, grid_picture, tile_layout


class Jigsaw(PretextModule):
    """Jigsaw puzzle solving; encoder, optimiser and evaluation arguments are ``SSLModule``'s.

    Args:
        grid: tiles per side (3 in the paper; 2 gives 4! = 24 possible permutations).
        patch: tile side in pixels, cut from cells of ``image_size // grid`` (paper: 64 of 75).
        num_permutations: size of the permutation set (paper: 100; at most (grid^2)!).
        permutation_seed: first permutation of the greedy selection.
        tile_norm: normalise each tile by its own statistics.
        hidden: hidden width of the classifier on the joined tile features (paper: fc7, 4096).
    """

    method_label = "Jigsaw"
    media_caption = "tiles in place | shuffled by the permutation to be predicted"

    def __init__(self, num_classes: int = 1000, grid: Literal[2, 3] = 3, patch: int = 18,
                 num_permutations: int = 100, permutation_seed: int = 0, tile_norm: bool = True,
                 hidden: int = 512, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        possible = math.factorial(grid * grid)
        if not 1 <= num_permutations <= possible:
            raise ConfigError(f"model.init_args.num_permutations={num_permutations}: a {grid}x{grid} jigsaw has only "
                              f"{possible} permutations (choose 1..{possible}, or a larger grid)")
        self.register_buffer("perms", hamming_permutations(num_permutations, grid * grid, permutation_seed))  # (P, n)
        self.head = classifier_head(grid * grid * self.feat_dim, hidden, num_permutations)

    def shuffle(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Tiles of ``x`` in shuffled order ``(B, n, 3, p, p)`` and the permutation indices ``(B,)``."""
        h = self.hparams
        tiles = grid_patches(x, h.grid, h.patch)  # (B, n, 3, p, p)
        idx = torch.randint(len(self.perms), (len(x),), device=x.device)  # (B,)
        order = self.perms[idx]  # (B, n): position j shows tile order[j]
        return tiles[torch.arange(len(x), device=x.device)[:, None], order], idx

    def pretext(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b = len(x)
        shuffled, idx = self.shuffle(x)
        if self.hparams.tile_norm:
            shuffled = per_tile_normalise(shuffled)
        with frozen_bn_stats(self.backbone):
            f = self.backbone(shuffled.flatten(0, 1)).view(b, -1)  # (B*n, F) -> (B, n*F), in shuffled order
        return self.head(f), idx, self.whole_image_features(x)

    def media(self, images: Tensor) -> np.ndarray:
        rgb = self.display(images)
        g = self.hparams.grid
        tiles = grid_patches(rgb, g, self.hparams.patch)
        shuffled, _ = self.shuffle(rgb)
        return grid_picture([[tile_layout(tiles[i], g), tile_layout(shuffled[i], g)] for i in range(len(images))])
