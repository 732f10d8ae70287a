"""COCO person keypoints (``annotations/person_keypoints_<split>.json`` + ``<split>/`` images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb
from datamodules.sources.coco_json import read_coco_json
from datamodules.sources.keypoints import BadKeypointPolicy, KeypointChecker, Person

COCO_FLIP_PAIRS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]


def coco_keypoints_help(root: Path, split: str) -> str:
    return (
        "Expected the COCO 2017 keypoints layout:\n"
        f"  {root}/annotations/person_keypoints_{split}.json\n"
        f"  {root}/{split}/000000000139.jpg ...\n"
        "Get it from https://cocodataset.org/#download (2017 Train/Val images and "
        "2017 Train/Val annotations)."
    )


class COCOKeypoints(Dataset):
    """One item per annotated person (``num_keypoints > 0``, not crowd) of a COCO keypoints file.

    Args:
        root: dataset folder (see ``coco_keypoints_help``).
        split: ``train2017``, ``val2017``, ...
        bad_keypoints: "skip" (mark unlabelled, count) or "error" for labelled keypoints off the image.
        ann_file: annotation json (default ``root/annotations/person_keypoints_<split>.json``).

    Returns (per item):
        ``(image, person)``: the whole image uint8 (3, H, W) and a ``Person`` (17 keypoints with
        COCO's visibility 0/1/2, box from the annotation's xywh bbox, head size 0: COCO has none).

    Raises:
        DatasetError: missing or malformed file, unknown visibility code, a keypoint list not of
            length 3K, a non-positive box, a missing image; messages name the file (and annotation).
    """

    def __init__(self, root: str | Path, split: str = "train2017", bad_keypoints: BadKeypointPolicy = "skip",
                 ann_file: str | Path | None = None) -> None:
        self.root = Path(root)
        self.images_dir = self.root / split
        self.ann_file = Path(ann_file) if ann_file else self.root / "annotations" / f"person_keypoints_{split}.json"
        data = read_coco_json(self.ann_file, "keypoints", coco_keypoints_help(self.root, split))
        cat = next((c for c in data["categories"] if c.get("keypoints")), None)
        if cat is None:
            raise DatasetError(f"{self.ann_file}: no category lists 'keypoints'; not a person_keypoints file.")
        self.joint_names = list(cat["keypoints"])
        k = len(self.joint_names)
        self.skeleton = [(a - 1, b - 1) for a, b in cat.get("skeleton", [])]  # COCO's are 1-based
        self.flip_pairs = COCO_FLIP_PAIRS if k == 17 else []
        self.torso = (5, 12)  # left shoulder, right hip
        images = {im["id"]: im for im in data["images"]}
        check = KeypointChecker(bad_keypoints, self.ann_file)
        self.items: list[tuple[dict[str, Any], Person]] = []
        for ann in sorted(data["annotations"], key=lambda a: a.get("id", 0)):
            if ann.get("iscrowd", 0) or ann.get("num_keypoints", 0) <= 0:
                continue
            where = f"annotation id {ann.get('id')} (image id {ann.get('image_id')})"
            im = images.get(ann.get("image_id"))
            if im is None:
                raise DatasetError(f"{self.ann_file}: {where}: refers to an image id not in 'images'.")
            raw = ann.get("keypoints", [])
            if len(raw) != 3 * k:
                raise DatasetError(f"{self.ann_file}: {where}: {len(raw)} keypoint values, expected 3 x {k}.")
            kps = check(np.asarray(raw, np.float32).reshape(k, 3), float(im["width"]), float(im["height"]), where)
            try:
                x, y, w, h = (float(v) for v in ann["bbox"])
            except (KeyError, TypeError, ValueError) as e:
                raise DatasetError(f"{self.ann_file}: {where}: bbox {ann.get('bbox')!r} is not [x, y, w, h].") from e
            if not (w > 0 and h > 0):
                raise DatasetError(f"{self.ann_file}: {where}: bbox {ann['bbox']} (xywh) has no area.")
            self.items.append((im, Person(kps, np.array([x, y, x + w, y + h], np.float32))))
        check.report()

    def __len__(self) -> int:
        return len(self.items)

    def person(self, index: int) -> Person:
        return self.items[index][1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Person]:
        info, person = self.items[index]
        return read_rgb(self.images_dir / info["file_name"]), person
