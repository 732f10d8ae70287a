"""What the detection sources share: reading an image with a clear error, and box checks.

Real datasets hold a few boxes that are degenerate (zero width or height) or stick out of
their image (COCO has both). ``BoxChecker`` clips boxes to the image and, for the ones left
with no area, either skips them and counts the skips (``policy="skip"``, logged once per
dataset) or raises a ``DatasetError`` naming the file and the annotation (``policy="error"``).
A box is never silently altered beyond clipping.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from contracts.errors import DatasetError

log = logging.getLogger(__name__)

BadBoxPolicy = Literal["skip", "error"]


def read_rgb(path: Path) -> torch.Tensor:
    """An image file as a uint8 tensor (3, H, W); a missing or corrupt file raises DatasetError."""
    if not path.is_file():
        raise DatasetError(f"{path}: image file is missing.")
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"), np.uint8)  # convert() forces the decode here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: cannot be read as an image ({type(e).__name__}: {e}).") from e
    return torch.from_numpy(array.transpose(2, 0, 1).copy())  # (3, H, W)


class BoxChecker:
    """Clips xyxy boxes to their image and applies the bad-box policy.

    Args:
        policy: "skip" (count, log once, drop the box) or "error" (raise DatasetError).
        source: the annotation file, named in messages.
    """

    def __init__(self, policy: BadBoxPolicy, source: Path) -> None:
        self.policy, self.source = policy, source
        self.skipped = 0

    def __call__(self, box: list[float], width: int, height: int, where: str) -> list[float] | None:
        """The clipped box, or ``None`` when it is skipped; ``where`` names the annotation."""
        x0, y0, x1, y1 = box
        if not all(np.isfinite(box)) or x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height or x1 <= x0 or y1 <= y0:
            problem = "lies outside its image" if x1 > x0 and y1 > y0 else "has zero area"
            msg = f"{self.source}: {where}: box {box} (xyxy) {problem} ({width}x{height})"
            if self.policy == "error":
                raise DatasetError(msg + "; set bad_boxes='skip' to drop such boxes.")
            if self.skipped == 0:
                log.warning("%s; skipping it and others like it (count logged at the end)", msg)
            self.skipped += 1
            return None
        return [max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)]

    def report(self) -> None:
        if self.skipped:
            log.warning("%s: skipped %d degenerate or out-of-image boxes", self.source, self.skipped)
