"""MPII Human Pose in its common JSON form (``annot/{train,valid}.json`` + ``images/``).

The JSON is the one the hourglass re-implementations and HRNet distribute: a list of records
``{"image", "center": [x, y], "scale", "joints": [[x, y]] * 16, "joints_vis": [16]}`` with
Matlab (1-based, pixel-centre) coordinates and a person box of ``200 * scale`` pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb
from datamodules.sources.keypoints import BadKeypointPolicy, KeypointChecker, Person

MPII_JOINTS = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
               "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist")
MPII_FLIP_PAIRS = [(0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)]
MPII_SKELETON = [(0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9),
                 (7, 12), (12, 11), (11, 10), (7, 13), (13, 14), (14, 15)]


def mpii_help(root: Path) -> str:
    return (
        "Expected the MPII layout of the hourglass/HRNet code:\n"
        f"  {root}/annot/train.json, {root}/annot/valid.json  (records with image, center, scale, "
        "joints, joints_vis)\n"
        f"  {root}/images/000001163.jpg ...\n"
        "Images: http://human-pose.mpi-inf.mpg.de/ (mpii_human_pose_v1.tar.gz); JSON annotations: "
        "https://github.com/leoxiaobin/deep-high-resolution-net.pytorch (data/mpii/annot)."
    )


class MPIIPose(Dataset):
    """One item per annotated person of an MPII JSON split.

    Args:
        root: dataset folder (see ``mpii_help``).
        split: ``train`` or ``valid`` (the file ``annot/<split>.json``; MPII test labels are private).
        bad_keypoints: "skip" (mark unlabelled, count) or "error" for labelled joints at negative
            coordinates (the image size is unknown until the image is read, so only the
            lower bound is checked here; crops mark joints outside them unlabelled anyway).

    Returns (per item):
        ``(image, person)``: uint8 (3, H, W) and a ``Person``: 16 joints in the pixel-edge frame
        (Matlab coordinates - 0.5), ``joints_vis`` 1 mapped to visibility 2 and 0 to 0; box the
        square of side ``200 * scale`` around ``center`` moved down by ``15 * scale`` (as
        ``pose-hg-train``); head size ``0.6 * |diagonal|`` of ``headbox`` [x1, y1, x2, y2] when
        the record has one (MPII's protocol), else approximated as ``0.6 * sqrt(2) *
        |head_top - upper_neck|`` (a square head box as tall as the head segment).
    """

    def __init__(self, root: str | Path, split: str = "train", bad_keypoints: BadKeypointPolicy = "skip") -> None:
        self.root = Path(root)
        self.ann_file = self.root / "annot" / f"{split}.json"
        self.images_dir = self.root / "images"
        if not self.ann_file.is_file():
            raise DatasetError(f"{self.ann_file}: annotation file is missing.\n{mpii_help(self.root)}")
        try:
            records = json.loads(self.ann_file.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DatasetError(f"{self.ann_file}: not an MPII annotation file (not json: {e}).") from e
        if not isinstance(records, list):
            raise DatasetError(f"{self.ann_file}: expected a list of person records, got {type(records).__name__}.")
        self.joint_names, self.flip_pairs, self.skeleton = list(MPII_JOINTS), MPII_FLIP_PAIRS, MPII_SKELETON
        self.torso = (13, 2)  # left shoulder, right hip
        check = KeypointChecker(bad_keypoints, self.ann_file, codes=(0, 1))
        self.items = [self._parse(r, i, check) for i, r in enumerate(records)]
        check.report()

    def _parse(self, rec: Any, i: int, check: KeypointChecker) -> tuple[str, Person]:
        name = rec.get("image") if isinstance(rec, dict) else repr(rec)
        where = f"record {i} ({name})"
        try:
            joints = np.asarray(rec["joints"], np.float32).reshape(-1, 2)
            vis = np.asarray(rec.get("joints_vis", np.ones(len(joints))), np.float32).reshape(-1)
            cx, cy = (float(v) for v in rec["center"])
            scale = float(rec["scale"])
            image = str(rec["image"])
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{self.ann_file}: {where}: missing or malformed field ({type(e).__name__}: {e}); "
                               "expected image, center, scale, joints, joints_vis.") from e
        if joints.shape != (16, 2) or vis.shape != (16,):
            raise DatasetError(f"{self.ann_file}: {where}: joints {tuple(joints.shape)} / joints_vis {tuple(vis.shape)}, "
                               "expected (16, 2) / (16,).")
        if not scale > 0:
            raise DatasetError(f"{self.ann_file}: {where}: scale {scale} must be positive.")
        kps = check(np.concatenate([joints - 0.5, vis[:, None]], 1), None, None, where)  # Matlab -> edge frame
        kps[:, 2] *= 2  # MPII 1 (labelled) -> 2
        cx, cy, side = cx - 0.5, cy - 0.5 + 15 * scale, 200 * scale
        box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)
        if "headbox" in rec:
            x1, y1, x2, y2 = (float(v) for v in rec["headbox"])
            head = 0.6 * math.hypot(x2 - x1, y2 - y1)
        elif kps[8, 2] > 0 and kps[9, 2] > 0:
            head = 0.6 * math.sqrt(2) * float(np.linalg.norm(kps[9, :2] - kps[8, :2]))
        else:
            head = 0.0
        return image, Person(kps, box, head)

    def __len__(self) -> int:
        return len(self.items)

    def person(self, index: int) -> Person:
        return self.items[index][1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Person]:
        name, person = self.items[index]
        return read_rgb(self.images_dir / name), person
