"""What every pose source yields per person, and the checks on keypoints read from disk."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from contracts.errors import DatasetError

log = logging.getLogger(__name__)

BadKeypointPolicy = Literal["skip", "error"]


@dataclass(frozen=True)
class Person:
    """One annotated person, in the pixel-edge frame of its image (pixel i spans [i, i + 1)).

    Attributes:
        keypoints: ``(K, 3)`` float32 (x, y, visibility): 0 unlabelled, 1 labelled but hidden,
            2 visible (COCO codes; sources map their own codes onto these).
        box: ``(4,)`` xyxy of the person, the crop's centre and extent.
        head_size: head segment size in pixels for PCKh, 0 when the source has none.
    """

    keypoints: np.ndarray
    box: np.ndarray
    head_size: float = 0.0


class KeypointChecker:
    """Validates keypoints of one annotation file; off-image keypoints follow ``policy``.

    Unknown visibility codes and non-finite coordinates of labelled joints always raise: they
    mean a wrong or corrupt file. Labelled keypoints outside the image are expected in MPII,
    whose annotators could mark joints of people cut by the border beyond it (not verified
    here: no copy of the data on this machine); with "skip" (the default) they are marked
    unlabelled (visibility 0), counted and reported once per file, with "error" they raise.
    """

    def __init__(self, policy: BadKeypointPolicy, source: Path, codes: tuple[int, ...] = (0, 1, 2)) -> None:
        self.policy, self.source, self.codes = policy, source, codes
        self.skipped = 0

    def __call__(self, kps: np.ndarray, width: float | None, height: float | None, where: str) -> np.ndarray:
        """``kps`` (K, 3) with visibility already in the file's codes; returns a checked copy."""
        kps = np.array(kps, np.float32)
        bad = sorted({int(v) if float(v).is_integer() else v for v in kps[:, 2].tolist() if v not in self.codes})
        if bad:
            raise DatasetError(f"{self.source}: {where}: unknown visibility code(s) {bad}; expected {list(self.codes)}.")
        labelled = kps[:, 2] > 0
        if not np.isfinite(kps[labelled, :2]).all():
            raise DatasetError(f"{self.source}: {where}: a labelled keypoint has a non-finite coordinate.")
        x, y = kps[:, 0], kps[:, 1]
        out = labelled & ((x < 0) | (y < 0) | (x > (width if width is not None else np.inf))
                          | (y > (height if height is not None else np.inf)))
        if out.any():
            msg = (f"{self.source}: {where}: keypoint(s) {np.flatnonzero(out).tolist()} lie outside the image"
                   + (f" ({width:g}x{height:g})" if width is not None and height is not None else ""))
            if self.policy == "error":
                raise DatasetError(msg + "; set bad_keypoints='skip' to mark them unlabelled.")
            if self.skipped == 0:
                log.warning("%s; marking them unlabelled (count logged at the end)", msg)
            self.skipped += int(out.sum())
            kps[out, 2] = 0
        return kps

    def report(self) -> None:
        if self.skipped:
            log.warning("%s: marked %d off-image keypoints unlabelled", self.source, self.skipped)
