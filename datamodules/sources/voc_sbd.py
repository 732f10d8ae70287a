"""PASCAL VOC 2012 segmentation with the SBD augmented set (Hariharan et al. 2011): FCN's and DeepLab's data.

Layout under ``root`` (the two archives unpacked side by side)::

    root/VOCdevkit/VOC2012/JPEGImages/2007_000032.jpg
    root/VOCdevkit/VOC2012/SegmentationClass/2007_000032.png   palette PNG: 0 bg, 1-20, 255 void border
    root/VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt, val.txt
    root/benchmark_RELEASE/dataset/img/2008_000002.jpg
    root/benchmark_RELEASE/dataset/cls/2008_000002.mat          GTcls.Segmentation: uint8 0 bg, 1-20
    root/benchmark_RELEASE/dataset/train.txt, val.txt           (8,498 and 2,857 ids)
    root/VOCdevkit/VOC2011/...                                  only for ``val_set="seg11valid"``

Training sets (``train_set``):

* ``train_aug`` (DeepLab's and most later work's): SBD train + SBD val + VOC 2012 seg train, minus
  VOC 2012 seg val, 10,582 images. An id with a VOC 2012 annotation (VOC train) takes it (finer,
  with the void border); the others take SBD's.
* ``sbd_train`` (FCN, Long et al. 2015, "Experimental framework": the 8,498 PASCAL training images of SBD):
  SBD's train.txt with SBD labels. Some of these images are in VOC 2012 val, so pair it with
  ``seg11valid``, not ``voc2012_val``.

Validation sets (``val_set``):

* ``voc2012_val``: VOC 2012 ImageSets/Segmentation/val.txt (1,449 images), VOC labels.
* ``seg11valid`` (FCN's Table 2 "subset of PASCAL VOC 2011 segval"; footnote: the VOC 2011 val
  images not in SBD train): VOC 2011 ImageSets/Segmentation/val.txt minus SBD train.txt, read from
  ``VOCdevkit/VOC2011``. FCN's published list (data/pascal/seg11valid.txt of its repository) has 736 ids.

SBD's split lists and file paths come from ``torchvision.datasets.SBDataset``; its ``.mat`` files are
read as torchvision reads them (``scipy.io.loadmat(f)["GTcls"][0]["Segmentation"][0]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb
from datamodules.sources.image_check import BadImagePolicy, keep_readable
from datamodules.sources.segmentation import (
    VOCSegmentation,
    checked_mask,
    read_index_mask,
    split_ids,
)

TrainSet = Literal["train_aug", "sbd_train"]
ValSet = Literal["voc2012_val", "seg11valid"]
Pair = tuple[Path, Path]  # (image, label: .png VOC palette or .mat SBD)


def voc_sbd_help(root: Path) -> str:
    return ("Expected VOC 2012 and SBD unpacked side by side:\n"
            f"  {root}/VOCdevkit/VOC2012/{{JPEGImages/*.jpg, SegmentationClass/*.png, "
            "ImageSets/Segmentation/train.txt, val.txt}\n"
            f"  {root}/benchmark_RELEASE/dataset/{{img/*.jpg, cls/*.mat, train.txt, val.txt}}\n"
            f"  {root}/VOCdevkit/VOC2011/... (same as VOC2012; only for val_set: seg11valid)\n"
            "Get VOCtrainval_11-May-2012.tar from http://host.robots.ox.ac.uk/pascal/VOC/voc2012/, "
            "benchmark.tgz from https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/"
            "semantic_contours/benchmark.tgz and (seg11valid) VOCtrainval_25-May-2011.tar from "
            "http://host.robots.ox.ac.uk/pascal/VOC/voc2011/.")


def read_sbd_mask(path: Path) -> np.ndarray:
    """``GTcls.Segmentation`` of an SBD ``cls/*.mat`` file as int64 (H, W)."""
    if not path.is_file():
        raise DatasetError(f"{path}: mask file is missing.")
    from scipy.io import loadmat  # SBD's labels are MATLAB files: scipy only when they are read

    try:
        return np.asarray(loadmat(str(path))["GTcls"][0]["Segmentation"][0], np.int64)
    except Exception as e:
        raise DatasetError(f"{path}: cannot be read as SBD's GTcls.Segmentation ({type(e).__name__}: {e}).") from e


def _voc(root: Path, year: str, split: str) -> dict[str, Pair]:
    devkit = root / "VOCdevkit" / f"VOC{year}"
    ids = split_ids(devkit / "ImageSets" / "Segmentation" / f"{split}.txt", voc_sbd_help(root))
    return {i: (devkit / "JPEGImages" / f"{i}.jpg", devkit / "SegmentationClass" / f"{i}.png") for i in ids}


def _sbd(root: Path, split: str) -> dict[str, Pair]:
    from torchvision.datasets import SBDataset

    sbd = root / "benchmark_RELEASE" / "dataset"
    ids = set(split_ids(sbd / f"{split}.txt", voc_sbd_help(root)))  # missing or empty: one line naming it
    ds = SBDataset(str(sbd), image_set=split, mode="segmentation")  # reads the list, no .mat yet
    pairs = ((Path(im), Path(m)) for im, m in zip(ds.images, ds.masks, strict=True))
    return {m.stem: (im, m) for im, m in pairs if m.stem in ids}  # blank lines dropped


def voc_sbd_pairs(root: Path, train: bool, train_set: TrainSet = "train_aug",
                  val_set: ValSet = "voc2012_val") -> list[Pair]:
    """The ``(image, label)`` files of a split, sorted by id (see the module docstring for the sets)."""
    if not train:
        if val_set == "voc2012_val":
            return list(_voc(root, "2012", "val").values())
        sbd_train = _sbd(root, "train")
        return [p for i, p in _voc(root, "2011", "val").items() if i not in sbd_train]
    if train_set == "sbd_train":
        return [p for _, p in sorted(_sbd(root, "train").items())]
    val = _voc(root, "2012", "val")
    pairs = {**_sbd(root, "train"), **_sbd(root, "val"), **_voc(root, "2012", "train")}  # VOC labels win
    return [p for i, p in sorted(pairs.items()) if i not in val]


class VOCSBDSegmentation(Dataset):
    """VOC 2012 + SBD segmentation: 21 classes (0 = background), 255 = void border (VOC labels only).

    Args:
        root: folder holding ``VOCdevkit/`` and ``benchmark_RELEASE/``.
        train: the training set (``train_set``) or the validation set (``val_set``).
        train_set: "train_aug" (10,582 images) or "sbd_train" (FCN's 8,498).
        val_set: "voc2012_val" (1,449) or "seg11valid" (FCN's VOC 2011 subset, 736).
        bad_images: "error" or "skip" (see ``image_check``).
    """

    classes = VOCSegmentation.classes

    def __init__(self, root: str | Path, train: bool = True, train_set: TrainSet = "train_aug",
                 val_set: ValSet = "voc2012_val", bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        self.pairs, self.skipped_files = keep_readable(voc_sbd_pairs(self.root, train, train_set, val_set),
                                                       lambda p: p[0], bad_images, str(self.root))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, path = self.pairs[i]
        image = read_rgb(image_path)
        mask = read_sbd_mask(path) if path.suffix == ".mat" else read_index_mask(path)
        return image, checked_mask(image, mask, path, len(self.classes))
