"""Top-down person crops: one affine warp moves the image and its keypoints together.

The crop is a square of ``max(box w, h) * padding`` around the box centre, optionally scaled,
rotated and mirrored (the hourglass paper's augmentation: scale 0.75-1.25, rotation +-30 deg,
flips), resampled to ``out x out``. Mirroring swaps left and right joints, so a flipped
"left wrist" is still the figure's own left wrist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.sources.keypoints import Person


def crop_matrix(box: np.ndarray, out: int, padding: float = 1.25, scale: float = 1.0, rotation: float = 0.0,
                flip: bool = False) -> np.ndarray:
    """``(2, 3)`` affine map from image to crop pixels (pixel-edge frame on both sides).

    ``rotation`` is in degrees (counter-clockwise as seen), ``scale`` > 1 zooms out.
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(float(box[2] - box[0]), float(box[3] - box[1]), 1.0) * padding * scale
    s, a = out / side, math.radians(rotation)
    rot = s * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    m = np.concatenate([rot, (out / 2 - rot @ np.array([cx, cy]))[:, None]], 1)
    if flip:  # x -> out - x
        m = np.array([[-1.0, 0.0, out], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
    return m.astype(np.float64)


def warp_image(image: torch.Tensor, m: np.ndarray, out: int) -> torch.Tensor:
    """uint8 ``(3, H, W)`` -> uint8 ``(3, out, out)`` under ``m`` (edge frame), black outside."""
    # cv2 puts pixel i's centre at i; in the edge frame it is at i + 0.5: conjugate by that shift.
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    mc = (np.linalg.inv(shift) @ np.vstack([m, [0.0, 0.0, 1.0]]) @ shift)[:2]
    arr = np.ascontiguousarray(image.permute(1, 2, 0).numpy())  # (H, W, 3)
    warped = cv2.warpAffine(arr, mc, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return torch.from_numpy(warped).permute(2, 0, 1).contiguous()  # (3, out, out)


def warp_keypoints(kps: np.ndarray, m: np.ndarray, out: int, flip_pairs: Sequence[tuple[int, int]] = (),
                   flipped: bool = False) -> np.ndarray:
    """``(K, 3)`` keypoints under ``m``; a mirrored crop swaps each (left, right) pair, and
    joints that leave the crop become unlabelled (visibility 0)."""
    res = kps.astype(np.float32).copy()
    res[:, :2] = kps[:, :2] @ m[:, :2].T + m[:, 2]
    if flipped:
        for a, b in flip_pairs:
            res[[a, b]] = res[[b, a]]
    inside = (res[:, 0] >= 0) & (res[:, 0] < out) & (res[:, 1] >= 0) & (res[:, 1] < out)
    res[~inside, 2] = 0
    return res


class TopDownCrops(Dataset):
    """Crops each person of a pose source: ``(image uint8 (3, S, S), keypoints (K, 3), pck_norm, head_size)``.

    Args:
        source: a Dataset of ``(image uint8 (3, H, W), Person)``.
        out: crop side S.
        flip_pairs: (left, right) joint index pairs of the source.
        padding: crop side over the box's longer side.
        train: sample the augmentation below (evaluation crops are deterministic).
        flip: mirror half of the training crops.
        rotation: largest rotation in degrees (uniform in +-rotation).
        scale: scale jitter, uniform in [1 - scale, 1 + scale].
        torso: (left shoulder, right hip) joint indices: normalise PCK by their distance (the
            torso size; 0, i.e. not counted, when either is unlabelled) instead of the box size.

    ``pck_norm`` (the box's longer side, or the torso size) and ``head_size`` are in crop
    pixels: the PCK and PCKh normalisers.
    """

    def __init__(self, source: Dataset, out: int, flip_pairs: Sequence[tuple[int, int]], padding: float = 1.25,
                 train: bool = False, flip: bool = False, rotation: float = 0.0, scale: float = 0.0,
                 torso: tuple[int, int] | None = None) -> None:
        self.source, self.out, self.flip_pairs, self.padding = source, out, list(flip_pairs), padding
        self.train, self.flip, self.rotation, self.scale = train, flip, rotation, scale
        self.torso = torso

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        image, person = self.source[i]
        person: Person
        s, r, f = 1.0, 0.0, False
        if self.train:
            s = 1.0 + float(torch.empty(()).uniform_(-self.scale, self.scale)) if self.scale else 1.0
            r = float(torch.empty(()).uniform_(-self.rotation, self.rotation)) if self.rotation else 0.0
            f = self.flip and bool(torch.rand(()) < 0.5)
        m = crop_matrix(person.box, self.out, self.padding, s, r, f)
        zoom = self.out / (max(float(person.box[2] - person.box[0]), float(person.box[3] - person.box[1]), 1.0)
                           * self.padding * s)
        box_size = zoom * max(float(person.box[2] - person.box[0]), float(person.box[3] - person.box[1]))
        kps = warp_keypoints(person.keypoints, m, self.out, self.flip_pairs, f)
        norm = box_size
        if self.torso is not None:
            a, b = self.torso
            labelled = person.keypoints[a, 2] > 0 and person.keypoints[b, 2] > 0
            norm = zoom * float(np.linalg.norm(person.keypoints[a, :2] - person.keypoints[b, :2])) if labelled else 0.0
        return warp_image(image, m, self.out), torch.from_numpy(kps), norm, zoom * person.head_size
