"""PASCAL VOC detection (``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main``) as a torch Dataset."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import BadBoxPolicy, BoxChecker, read_rgb
from datamodules.sources.image_check import BadImagePolicy, keep_readable

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)


def voc_layout_help(root: Path) -> str:
    return (
        "Expected a VOCdevkit year folder (give several for VOC 07+12):\n"
        f"  {root}/Annotations/000005.xml\n"
        f"  {root}/JPEGImages/000005.jpg\n"
        f"  {root}/ImageSets/Main/trainval.txt (and test.txt for VOC2007)\n"
        "Get VOC2007 trainval/test and VOC2012 trainval from http://host.robots.ox.ac.uk/pascal/VOC/."
    )


class VOCDetection(Dataset):
    """PASCAL VOC object boxes with the ``difficult`` flag, from one or several year folders.

    Boxes are VOC's 1-based inclusive pixel corners turned into 0-based xyxy
    (``x0 - 1, y0 - 1, x1, y1``) and checked with ``bad_boxes``. Labels are 1..20 in
    ``VOC_CLASSES`` order. ``difficult`` objects are kept with ``difficult=1``: the evaluation
    ignores detections on them (the VOC protocol), and the training pipeline drops them by
    default (``DetectionDataModule(use_difficult=False)``), as the papers did.

    Args:
        roots: one year folder (``.../VOCdevkit/VOC2007``) or a list (VOC 07+12).
        split: image set name in ``ImageSets/Main`` (``trainval``, ``test``, ...).
        classes: class names in label order.
        bad_boxes: "skip" (counted, logged) or "error" for zero-area / out-of-image boxes.
        bad_images: unreadable image files: "error" (raise naming the file when read) or "skip"
            (verified once here, dropped, logged, listed in ``skipped_files``).

    Returns (per item):
        ``(image, target)``: image uint8 (3, H, W); target ``boxes`` float32 (N, 4) xyxy,
        ``labels`` int64 (N,), ``difficult`` uint8 (N,), ``image_id`` str (``VOC2007/000005``).

    Raises:
        DatasetError: missing split file, annotation or image; malformed XML; unknown class
            name; bad boxes with ``bad_boxes="error"`` (each names the file).
    """

    def __init__(self, roots: str | Path | list[str | Path], split: str = "trainval",
                 classes: tuple[str, ...] = VOC_CLASSES, bad_boxes: BadBoxPolicy = "error",
                 bad_images: BadImagePolicy = "error") -> None:
        roots = [roots] if isinstance(roots, (str, Path)) else list(roots)
        self.classes = tuple(classes)
        self.num_classes = len(self.classes)
        self.bad_boxes = bad_boxes
        self.items: list[tuple[Path, str]] = []
        for root in map(Path, roots):
            ids_file = root / "ImageSets" / "Main" / f"{split}.txt"
            if not ids_file.is_file():
                raise DatasetError(f"{ids_file}: split file is missing.\n{voc_layout_help(root)}")
            ids = [line.split()[0] for line in ids_file.read_text().splitlines() if line.strip()]
            self.items += [(root, i) for i in ids]
        # VOC names every image <id>.jpg (the XML's <filename> agrees); skip checks that file
        self.items, self.skipped_files = keep_readable(self.items, lambda it: it[0] / "JPEGImages" / f"{it[1]}.jpg",
                                                       bad_images, " + ".join(str(r) for r in roots))

    def __len__(self) -> int:
        return len(self.items)

    def parse(self, xml_path: Path) -> tuple[str, list[list[float]], list[int], list[int]]:
        """(image file name, xyxy boxes, labels, difficult flags) of one annotation file."""
        if not xml_path.is_file():
            raise DatasetError(f"{xml_path}: annotation file is missing.")
        try:
            root = ET.parse(xml_path).getroot()
            name = root.findtext("filename") or f"{xml_path.stem}.jpg"
            width, height = int(root.findtext("size/width")), int(root.findtext("size/height"))
        except (ET.ParseError, TypeError, ValueError) as e:
            raise DatasetError(f"{xml_path}: not a VOC annotation ({type(e).__name__}: {e}).") from e
        check = BoxChecker(self.bad_boxes, xml_path)
        boxes, labels, difficult = [], [], []
        for k, obj in enumerate(root.iter("object")):
            cls = (obj.findtext("name") or "").strip()
            if cls not in self.classes:
                raise DatasetError(f"{xml_path}: object {k}: class {cls!r} is not one of {list(self.classes)}.")
            try:
                b = [float(obj.findtext(f"bndbox/{t}")) for t in ("xmin", "ymin", "xmax", "ymax")]
            except (TypeError, ValueError) as e:
                raise DatasetError(f"{xml_path}: object {k}: malformed bndbox ({e}).") from e
            box = check([b[0] - 1, b[1] - 1, b[2], b[3]], width, height, f"object {k} ({cls})")
            if box is not None:
                boxes.append(box)
                labels.append(self.classes.index(cls) + 1)
                difficult.append(int(obj.findtext("difficult") or 0))
        check.report()
        return name, boxes, labels, difficult

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        root, image_id = self.items[index]
        name, boxes, labels, difficult = self.parse(root / "Annotations" / f"{image_id}.xml")
        image = read_rgb(root / "JPEGImages" / name)
        return image, {
            "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "difficult": torch.tensor(difficult, dtype=torch.uint8),
            "image_id": f"{root.name}/{image_id}",
        }
