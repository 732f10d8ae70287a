"""W&B media for pose: crops with the true (green) and predicted (red) skeletons drawn on them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw
from torch import Tensor

TRUE, PRED = (0, 220, 0), (255, 40, 40)


def draw_skeletons(image: np.ndarray, true: Tensor, pred: Tensor, skeleton: Sequence[tuple[int, int]],
                   zoom: int = 1) -> np.ndarray:
    """uint8 ``(H, W, 3)`` image + keypoints ``(K, >=3)`` (x, y, visibility) and ``(K, >=2)`` ->
    uint8 ``(H*zoom, W*zoom, 3)`` with both skeletons; true limbs with an unlabelled end are skipped."""
    im = Image.fromarray(image).resize((image.shape[1] * zoom, image.shape[0] * zoom), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    t, p = true[:, :3].tolist(), pred[:, :2].tolist()
    r = max(1, zoom)
    for pts, color, labelled in ((t, TRUE, [v > 0 for *_, v in t]), (p, PRED, [True] * len(p))):
        xy = [(x * zoom, y * zoom) for x, y, *_ in pts]
        for a, b in skeleton:
            if labelled[a] and labelled[b]:
                draw.line(xy[a] + xy[b], fill=color, width=max(1, zoom // 2))
        for (x, y), ok in zip(xy, labelled, strict=True):
            if ok:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    return np.asarray(im)
