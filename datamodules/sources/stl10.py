"""STL-10 from the official *binary* files (``stl10_binary/``), read with numpy.

Each ``*_X.bin`` holds uint8 images of 3 x 96 x 96 stored channel by channel and, within a
channel, column-major (the MATLAB order), no header; ``*_y.bin`` one uint8 label in 1..10 per
image. ``unlabeled_X.bin`` (100,000 images, 2.6 GB) is memory-mapped, never read whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from contracts.errors import DatasetError

_URL = "https://cs.stanford.edu/~acoates/stl10/"
_IMAGE_BYTES = 3 * 96 * 96
_FILES = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin"),
          "unlabeled": ("unlabeled_X.bin", None)}


def stl10_help(folder: Path) -> str:
    return (f"Expected the binary STL-10 layout: {folder}/train_X.bin, train_y.bin, test_X.bin, test_y.bin, "
            f"unlabeled_X.bin. Get stl10_binary.tar.gz from {_URL} and extract it.")


def stl10_folder(root: str | Path) -> Path:
    """``root`` itself if it holds the .bin files, else ``root/stl10_binary``."""
    root = Path(root).expanduser()
    return root if (root / "train_X.bin").is_file() or root.name == "stl10_binary" else root / "stl10_binary"


class STL10Source(torch.utils.data.Dataset):
    """One STL-10 split: ``train`` (5,000 labelled), ``test`` (8,000) or ``unlabeled`` (100,000).

    Args:
        root: the ``stl10_binary`` folder or its parent.
        split: which file pair to read.

    Returns:
        ``__getitem__`` gives ``(uint8 tensor [3, 96, 96], label)``; label in ``[0, 10)``, or -1
        for ``unlabeled``.

    Raises:
        DatasetError: a missing file, a size that is not a whole number of images, a label file
            of another length, or labels outside 1..10.
    """

    num_classes = 10

    def __init__(self, root: str | Path, split: Literal["train", "test", "unlabeled"] = "train") -> None:
        if split not in _FILES:
            raise ValueError(f"STL-10 splits are {sorted(_FILES)}, got {split!r}")
        folder = stl10_folder(root)
        x_name, y_name = _FILES[split]
        x_path = folder / x_name
        if not x_path.is_file():
            raise DatasetError(f"STL-10 file {x_path} is missing. {stl10_help(folder)}")
        size = x_path.stat().st_size
        if size == 0 or size % _IMAGE_BYTES:
            raise DatasetError(f"{x_path}: {size} bytes is not a whole number of 3x96x96 uint8 images "
                               f"({_IMAGE_BYTES} bytes each).")
        n = size // _IMAGE_BYTES
        self.data = np.memmap(x_path, np.uint8, "r", shape=(n, 3, 96, 96))  # (N, C, W, H): column-major
        if y_name is None:
            self.labels = np.full(n, -1, np.int64)
            return
        y_path = folder / y_name
        if not y_path.is_file():
            raise DatasetError(f"STL-10 label file {y_path} is missing. {stl10_help(folder)}")
        labels = np.fromfile(y_path, np.uint8).astype(np.int64)
        if len(labels) != n:
            raise DatasetError(f"{y_path}: {len(labels)} labels but {x_path} holds {n} images.")
        if len(labels) and (labels.min() < 1 or labels.max() > 10):
            raise DatasetError(f"{y_path}: labels must lie in 1..10, found {labels.min()}..{labels.max()}.")
        self.labels = labels - 1

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(np.array(self.data[index])).transpose(1, 2)  # (3, W, H) -> (3, H, W)
        return image.contiguous(), int(self.labels[index])
