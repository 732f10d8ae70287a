"""COCO instances (``annotations/instances_<split>.json`` + ``<split>/`` images) as a torch Dataset."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import BadBoxPolicy, BoxChecker, read_rgb
from datamodules.sources.coco_json import read_coco_json
from datamodules.sources.image_check import BadImagePolicy, keep_readable


def coco_layout_help(root: Path, split: str) -> str:
    return (
        "Expected the COCO 2017 layout:\n"
        f"  {root}/annotations/instances_{split}.json\n"
        f"  {root}/{split}/000000000139.jpg ...\n"
        "Get it from https://cocodataset.org/#download (2017 Train/Val images and "
        "2017 Train/Val annotations)."
    )


class COCODetection(Dataset):
    """COCO object instances: boxes, contiguous labels and (optionally) instance masks.

    Boxes are converted from COCO's xywh to xyxy pixels and clipped to the image; boxes with
    no area left follow ``bad_boxes`` (COCO itself holds a few, so the default skips and counts
    them). Category ids map to contiguous labels ``1..K`` in the order of ``categories`` (by
    default the file's categories sorted by id), 0 being background. ``iscrowd`` annotations
    are kept with ``iscrowd=1`` so the evaluation can ignore detections on them, as COCOeval
    does; the training pipeline drops them from the targets (``DetectionDataModule``).
    Polygons, uncompressed and compressed RLE are all decoded to masks with pycocotools.

    Args:
        root: dataset folder (see ``coco_layout_help``).
        split: ``train2017``, ``val2017``, ...
        masks: also return instance masks.
        categories: category ids to keep, in label order; others raise (``None``: all in file).
        bad_boxes: "skip" (counted, logged) or "error" for zero-area / out-of-image boxes.
        bad_images: unreadable image files: "error" (raise naming the file when read) or "skip"
            (verified once here, dropped, logged, listed in ``skipped_files``).
        ann_file: annotation json (default ``root/annotations/instances_<split>.json``).

    Returns (per item):
        ``(image, target)``: image uint8 (3, H, W); target ``boxes`` float32 (N, 4) xyxy,
        ``labels`` int64 (N,), ``iscrowd`` uint8 (N,), ``image_id`` int, and with ``masks``
        ``masks`` uint8 (N, H, W).

    Raises:
        DatasetError: not a COCO instances json, unknown category id, missing or corrupt image,
            and bad boxes with ``bad_boxes="error"``; each message names the file (and the
            annotation id).
    """

    def __init__(self, root: str | Path, split: str = "train2017", masks: bool = False,
                 categories: list[int] | None = None, bad_boxes: BadBoxPolicy = "skip",
                 ann_file: str | Path | None = None, bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        self.images_dir = self.root / split
        self.ann_file = Path(ann_file) if ann_file else self.root / "annotations" / f"instances_{split}.json"
        self.masks = masks
        data = read_coco_json(self.ann_file, "instances", coco_layout_help(self.root, split))
        file_cats = sorted(int(c["id"]) for c in data["categories"])
        cats = list(categories) if categories is not None else file_cats
        self.cat_to_label = {c: i + 1 for i, c in enumerate(cats)}
        names = {int(c["id"]): c.get("name", str(c["id"])) for c in data["categories"]}
        self.classes = [names.get(c, str(c)) for c in cats]
        self.num_classes = len(cats)
        self.images = sorted(data["images"], key=lambda im: im["id"])
        #: ``"path: reason"`` of every image dropped by ``bad_images="skip"``.
        self.images, self.skipped_files = keep_readable(self.images, lambda im: self.images_dir / im["file_name"],
                                                        bad_images, str(self.images_dir))
        per_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
        sizes = {im["id"]: (int(im["width"]), int(im["height"])) for im in self.images}
        check = BoxChecker(bad_boxes, self.ann_file)
        for ann in data["annotations"]:
            where = f"annotation id {ann.get('id')} (image id {ann.get('image_id')})"
            if ann.get("category_id") not in self.cat_to_label:
                raise DatasetError(f"{self.ann_file}: {where}: category id {ann.get('category_id')} is not "
                                   f"among the configured categories {cats}.")
            if ann.get("image_id") not in sizes:
                raise DatasetError(f"{self.ann_file}: {where}: refers to an image id not in 'images'.")
            x, y, w, h = (float(v) for v in ann["bbox"])
            box = check([x, y, x + w, y + h], *sizes[ann["image_id"]], where)
            if box is not None:
                per_image[ann["image_id"]].append({**ann, "bbox": box})
        check.report()
        self.annotations = per_image

    def __len__(self) -> int:
        return len(self.images)

    def _mask(self, segm: Any, h: int, w: int, where: str) -> np.ndarray:
        try:
            if isinstance(segm, list):  # polygons: one object may have several parts
                rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
            elif isinstance(segm.get("counts"), list):  # uncompressed RLE (crowd regions)
                rle = mask_utils.frPyObjects(segm, h, w)
            else:
                rle = segm
            return mask_utils.decode(rle)
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            raise DatasetError(f"{self.ann_file}: {where}: unreadable segmentation ({e}).") from e

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        info = self.images[index]
        image = read_rgb(self.images_dir / info["file_name"])
        h, w = image.shape[1:]
        if (w, h) != (int(info["width"]), int(info["height"])):
            raise DatasetError(f"{self.images_dir / info['file_name']}: is {w}x{h} but the annotation file "
                               f"says {info['width']}x{info['height']}.")
        anns = self.annotations.get(info["id"], [])
        target: dict[str, Any] = {
            "boxes": torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor([self.cat_to_label[a["category_id"]] for a in anns], dtype=torch.int64),
            "iscrowd": torch.tensor([int(a.get("iscrowd", 0)) for a in anns], dtype=torch.uint8),
            "image_id": int(info["id"]),
        }
        if self.masks:
            masks = [self._mask(a["segmentation"], h, w, f"annotation id {a['id']}") for a in anns]
            target["masks"] = torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, h, w, dtype=torch.uint8)
        return image, target
