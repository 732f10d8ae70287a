"""Context prediction — "Unsupervised Visual Representation Learning by Context Prediction" (Doersch, Gupta & Efros 2015).

The idea: given a patch and one of its eight neighbours, say where the neighbour lies (top-left,
top, ..., bottom-right). Knowing that an eye sits above a mouth needs object parts, not pixels.
Patches come from a 3 x 3 grid with gaps and random jitter (Sec. 3: no shortcut through
continuing edges); both patches go through the *same* encoder, and a small network on their
concatenated features ("late fusion", Fig. 3) classifies the 8 positions. Each image gives all
8 (centre, neighbour) pairs at once, so the 9 patches are encoded once.

The paper also fights chromatic aberration (a lens's colour fringes tell where a patch was in
the frame) by dropping colour channels; the SSL family's grey and colour-jitter augmentations do
that job here. Patch passes leave BN's running statistics to a no-gradient pass over the whole
images (``nets.pretext.frozen_bn_stats``), the input linear evaluation sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from lit_modules.nets.pretext import classifier_head, frozen_bn_stats, pair_features
from lit_modules.ops.pretext import grid_patches, relative_pairs
from lit_modules.pretext import PretextModule, grid_picture


class RelativePosition(PretextModule):
    """Relative patch position; encoder, optimiser and evaluation arguments are ``SSLModule``'s.

    Args:
        patch: patch side in pixels; the 3 x 3 cells are ``image_size // 3`` (paper: 96 px
            patches, 48 px gaps and up to 7 px jitter on ~300 px images).
        hidden: hidden width of the pair classifier (paper: fc6 of each patch, then fc7-fc9).
    """

    method_label = "Relative position"
    media_caption = "image | centre patch | one neighbour | its position (black cell; the label 0-7 counts row-major around the centre)"

    def __init__(self, num_classes: int = 1000, patch: int = 16, hidden: int = 512, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.head = classifier_head(2 * self.feat_dim, hidden, 8)

    def pretext(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b = len(x)
        patches = grid_patches(x, 3, self.hparams.patch)  # (B, 9, 3, p, p)
        with frozen_bn_stats(self.backbone):
            f = self.backbone(patches.flatten(0, 1)).unflatten(0, (b, 9))  # (B, 9, F)
        centre, neighbours, labels = relative_pairs(f)  # (B, F), (B, 8, F), (B, 8)
        logits = self.head(pair_features(centre, neighbours))  # (B*8, 8)
        return logits, labels.flatten(), self.whole_image_features(x)

    def media(self, images: Tensor) -> np.ndarray:
        rgb = self.display(images)
        patches = grid_patches(rgb, 3, self.hparams.patch)  # (N, 9, 3, p, p)
        centre, neighbours, _ = relative_pairs(patches)
        k = torch.arange(len(images)) % 8  # a different neighbour in each row
        return grid_picture([[rgb[i], centre[i], neighbours[i, k[i]], _digit(int(k[i]), patches.shape[-1])]
                             for i in range(len(images))])


def _digit(k: int, side: int) -> Tensor:
    """The label ``k`` drawn as a 3x3 position map: the centre cell grey, cell of ``k`` black."""
    from lit_modules.ops.pretext import NEIGHBOURS

    cell = side // 3
    out = torch.ones(3, 3 * cell, 3 * cell)
    out[:, cell:2 * cell, cell:2 * cell] = 0.6
    i, j = divmod(NEIGHBOURS[k], 3)
    out[:, i * cell:(i + 1) * cell, j * cell:(j + 1) * cell] = 0.0
    return out
