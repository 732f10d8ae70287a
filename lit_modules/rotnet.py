"""RotNet — "Unsupervised Representation Learning by Predicting Image Rotations" (Gidaris, Singh & Komodakis 2018).

The idea: to tell by how much (0, 90, 180, 270 degrees) an image was rotated, a network must
know what the objects in it are and which way up they stand. Every image enters the batch in
all four rotations (the paper's Sec. 3 / Table 2: better than one random rotation per image),
and a 4-way classifier on the encoder's features is trained with cross-entropy. The features
of the unrotated copy feed the online probe.

On ShapesWorld the shapes lie at random angles, so "upright" is defined by the texture and the
frame's layout, not by the shapes: a harder task here than on photographs (noted in docs/ANALYSES.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from lit_modules.nets.pretext import classifier_head
from lit_modules.ops.pretext import rotations
from lit_modules.pretext import PretextModule, grid_picture


class RotNet(PretextModule):
    """Rotation prediction; encoder, optimiser and evaluation arguments are ``SSLModule``'s.

    Args:
        hidden: hidden width of the MLP classifier on the features (0: a linear classifier).
    """

    method_label = "RotNet"
    media_caption = "each image in its four rotations (labels 0-3)"

    def __init__(self, num_classes: int = 1000, hidden: int = 512, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.head = classifier_head(self.feat_dim, hidden, 4)

    def pretext(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b = len(x)
        rotated, labels = rotations(x)  # (4B, 3, S, S), (4B,)
        h = self.backbone(rotated)  # (4B, F): one pass, BN statistics over all rotations
        return self.head(h), labels, h[:b]  # rows [0, B) are the unrotated images

    def media(self, images: Tensor) -> np.ndarray:
        rotated, _ = rotations(self.display(images))
        n = len(images)
        return grid_picture([[rotated[k * n + i] for k in range(4)] for i in range(n)])
