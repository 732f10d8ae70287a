"""Any folder of images, flat or in class folders, for unconditional or conditional generation.

    root/001.png, root/002.jpg, ...                       flat: no labels (label -1)
    root/<class>/001.png, ...                              class folders: label = sorted index
    root/train/... and root/val/...                        either layout, split given on disk

Without both ``train/`` and ``val/``, every ``holdout``-th file (in sorted order) of ``root``
(or of ``root/train``) is the validation split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as F

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb


def collection_help(root: Path) -> str:
    return ("Expected a folder of images, flat or one sub-folder per class, optionally split:\n"
            f"  {root}/img_0001.png, {root}/img_0002.jpg, ...          (unlabelled)\n"
            f"  {root}/<class>/img_0001.png, ...                      (labels from folder names)\n"
            f"  {root}/train/..., {root}/val/...                       (either layout per split)")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS)


def scan(folder: Path) -> tuple[list[Path], list[int], list[str]]:
    """Files, labels (-1 if flat) and class names of one folder; DatasetError if neither layout."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: image folder does not exist.\n{collection_help(folder)}")
    files = sorted(p for p in folder.iterdir() if _is_image(p))
    dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if files and dirs and any(_is_image(q) for d in dirs for q in d.iterdir()):
        raise DatasetError(f"{folder}: holds both images and class folders with images ({dirs[0].name}/, ...); "
                           f"use one layout.\n{collection_help(folder)}")
    if files:
        return files, [-1] * len(files), []
    classes, paths, labels = [], [], []
    for d in dirs:
        imgs = sorted(q for q in d.rglob("*") if _is_image(q))
        if imgs:
            labels += [len(classes)] * len(imgs)
            classes.append(d.name)
            paths += imgs
    if not paths:
        raise DatasetError(f"{folder}: no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...) in it or its "
                           f"sub-folders.\n{collection_help(folder)}")
    return paths, labels, classes


class ImageCollection(Dataset):
    """A split of an image folder, each image resized (short side) and centre-cropped to a square.

    Args:
        root: the folder (see the module docstring for layouts).
        split: "train" or "val".
        image_size: output side.
        holdout: without ``root/train`` and ``root/val``, every ``holdout``-th image is validation.

    Returns (per item): ``(image uint8 (3, S, S), label int)``; label -1 for a flat folder.
    ``classes`` lists the class-folder names ([] if flat).
    """

    def __init__(self, root: str | Path, split: Literal["train", "val"] = "train", image_size: int = 64,
                 holdout: int = 20) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise DatasetError(f"{root}: image folder does not exist.\n{collection_help(root)}")
        self.image_size = image_size
        if (root / "train").is_dir() and (root / "val").is_dir():
            folder = root / split
            self.files, self.labels, self.classes = scan(folder)
            if split != "train":
                train_classes = scan(root / "train")[2]
                if self.classes != train_classes:
                    raise DatasetError(f"{folder}: class folders {self.classes[:5]} differ from those of "
                                       f"{root / 'train'} {train_classes[:5]}; labels would not match.")
        else:
            base = root / "train" if (root / "train").is_dir() else root
            files, labels, self.classes = scan(base)
            keep = [(i % holdout == 0) == (split == "val") for i in range(len(files))]
            self.files = [f for f, k in zip(files, keep, strict=True) if k]
            self.labels = [y for y, k in zip(labels, keep, strict=True) if k]
            if not self.files:
                raise DatasetError(f"{root}: {len(files)} image(s) leave none for the {split} split "
                                   f"(every {holdout}th image is validation).")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = read_rgb(self.files[i])  # (3, H, W) uint8; DatasetError names a bad file
        image = F.resize(image, self.image_size, antialias=True)  # short side -> S
        return F.center_crop(image, [self.image_size, self.image_size]), self.labels[i]
