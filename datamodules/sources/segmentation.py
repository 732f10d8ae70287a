"""Semantic-segmentation datasets on disk: PASCAL VOC 2012, Carvana, Oxford-IIIT Pet.

Each source yields ``(image uint8 (3, H, W), mask int64 (H, W))`` with classes 0..K-1 and
255 = ignore, and checks every mask against its image (same size, known class values), raising
``DatasetError`` that names the file.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb
from datamodules.sources.image_check import BadImagePolicy, keep_readable
from datamodules.sources.voc import VOC_CLASSES

IGNORE = 255


def read_index_mask(path: Path) -> np.ndarray:
    """A mask file's raw pixel values (palette indices for VOC's P-mode PNGs), as int64 (H, W)."""
    if not path.is_file():
        raise DatasetError(f"{path}: mask file is missing.")
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "1"):
                im = im.convert("L")
            return np.asarray(im, np.int64)  # P mode: the palette indices, not the colours
    except (OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"{path}: cannot be read as a mask ({type(e).__name__}: {e}).") from e


def checked_mask(image: torch.Tensor, mask: np.ndarray, path: Path, num_classes: int) -> torch.Tensor:
    if tuple(mask.shape) != tuple(image.shape[1:]):
        raise DatasetError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} px but its image is "
                           f"{image.shape[2]}x{image.shape[1]} px.")
    bad = np.setdiff1d(np.unique(mask), [*range(num_classes), IGNORE])
    if bad.size:
        raise DatasetError(f"{path}: class values {bad.tolist()} outside 0..{num_classes - 1} (255 = ignore).")
    return torch.from_numpy(mask)


def split_ids(path: Path, layout: str) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: split file is missing.\n{layout}")
    ids = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    if not ids:
        raise DatasetError(f"{path}: split file lists no images.")
    return ids


def voc_seg_help(root: Path) -> str:
    return ("Expected the VOC2012 layout:\n"
            f"  {root}/JPEGImages/2007_000032.jpg\n"
            f"  {root}/SegmentationClass/2007_000032.png   (palette PNG: 0 background, 1-20 classes, 255 border)\n"
            f"  {root}/ImageSets/Segmentation/train.txt, val.txt\n"
            "Get VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2012/.")


def carvana_help(root: Path) -> str:
    return ("Expected the Kaggle Carvana layout:\n"
            f"  {root}/train/<car>_<angle>.jpg\n  {root}/train_masks/<car>_<angle>_mask.gif   (0 background, 1 car)\n"
            "Get train.zip and train_masks.zip from https://www.kaggle.com/c/carvana-image-masking-challenge.")


def pets_help(root: Path) -> str:
    return ("Expected the Oxford-IIIT Pet layout:\n"
            f"  {root}/images/Abyssinian_1.jpg\n"
            f"  {root}/annotations/trimaps/Abyssinian_1.png   (1 pet, 2 background, 3 border)\n"
            f"  {root}/annotations/trainval.txt, test.txt\n"
            "Get images.tar.gz and annotations.tar.gz from https://www.robots.ox.ac.uk/~vgg/data/pets/.")


class VOCSegmentation(Dataset):
    """PASCAL VOC 2012 segmentation: 21 classes (0 = background), 255 = void border.

    Args:
        root: the ``VOC2012`` folder.
        split: ``train`` or ``val`` (a file in ``ImageSets/Segmentation``).
        bad_images: "error" or "skip" (see ``image_check``: unreadable images dropped, listed in ``skipped_files``).
    """

    classes = ("background", *VOC_CLASSES)

    def __init__(self, root: str | Path, split: str = "train", bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        self.ids = split_ids(self.root / "ImageSets" / "Segmentation" / f"{split}.txt", voc_seg_help(self.root))
        self.ids, self.skipped_files = keep_readable(self.ids, lambda i: self.root / "JPEGImages" / f"{i}.jpg",
                                                     bad_images, str(self.root / "JPEGImages"))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_rgb(self.root / "JPEGImages" / f"{self.ids[i]}.jpg")
        path = self.root / "SegmentationClass" / f"{self.ids[i]}.png"
        return image, checked_mask(image, read_index_mask(path), path, len(self.classes))


class CarvanaSegmentation(Dataset):
    """Carvana car masks (binary). No official labelled test split: cars (all 16 angles of one
    car together, so no car is in both) go to val when a hash of the car id falls in ``val_fraction``.

    Args:
        root: folder with ``train/`` and ``train_masks/``.
        split: ``train`` or ``val``.
        val_fraction: share of cars held out.
        bad_images: "error" or "skip" (see ``image_check``).
    """

    classes = ("background", "car")

    def __init__(self, root: str | Path, split: str = "train", val_fraction: float = 0.1,
                 bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        images = sorted((self.root / "train").glob("*.jpg"))
        if not images:
            raise DatasetError(f"{self.root / 'train'}: no .jpg images.\n{carvana_help(self.root)}")
        is_val = lambda p: zlib.crc32(p.stem.rsplit("_", 1)[0].encode()) % 1000 < val_fraction * 1000
        self.images = [p for p in images if is_val(p) == (split != "train")]
        self.images, self.skipped_files = keep_readable(self.images, lambda p: p, bad_images, str(self.root / "train"))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_rgb(self.images[i])
        path = self.root / "train_masks" / f"{self.images[i].stem}_mask.gif"
        mask = read_index_mask(path)
        return image, checked_mask(image, (mask > 0).astype(np.int64), path, 2)


class PetSegmentation(Dataset):
    """Oxford-IIIT Pet trimaps as 2 classes: 0 background, 1 pet; the border region is 255 (ignored).

    Args:
        root: folder with ``images/`` and ``annotations/``.
        split: ``trainval`` or ``test`` (files in ``annotations/``).
        bad_images: "error" or "skip" (see ``image_check``).
    """

    classes = ("background", "pet")
    _trimap = np.array([IGNORE, 1, 0, IGNORE], np.int64)  # trimap value -> class (0 is not used)

    def __init__(self, root: str | Path, split: str = "trainval", bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        self.ids = split_ids(self.root / "annotations" / f"{split}.txt", pets_help(self.root))
        self.ids, self.skipped_files = keep_readable(self.ids, lambda i: self.root / "images" / f"{i}.jpg",
                                                     bad_images, str(self.root / "images"))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = read_rgb(self.root / "images" / f"{self.ids[i]}.jpg")
        path = self.root / "annotations" / "trimaps" / f"{self.ids[i]}.png"
        raw = read_index_mask(path)
        if raw.size and (raw.min() < 1 or raw.max() > 3):
            raise DatasetError(f"{path}: trimap values must be 1 (pet), 2 (background) or 3 (border), "
                               f"found {np.unique(raw).tolist()}.")
        return image, checked_mask(image, self._trimap[raw], path, 2)
