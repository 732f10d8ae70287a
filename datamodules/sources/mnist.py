"""MNIST from its raw idx files (LeCun's format), read with torchvision's reader, never downloaded.

The layout is torchvision's: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` with
or without ``.gz`` (``root`` may also be the ``MNIST`` or ``raw`` folder itself). Each file's header
is checked first (magic number, sizes against the file's length), so a wrong or truncated file is
one ``DatasetError`` naming it instead of torchvision's bare ``AssertionError``.
"""

from __future__ import annotations

import gzip
import struct
import tempfile
from pathlib import Path
from typing import ClassVar, Literal

import torch
from torchvision.datasets.mnist import read_image_file, read_label_file

from contracts.errors import DatasetError

_MAGIC = {"images": 2051, "labels": 2049}  # idx3 ubyte (0x00000803), idx1 ubyte (0x00000801)
_PREFIX = {"train": "train", "test": "t10k"}
_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def mnist_layout_help(root: Path) -> str:
    return (
        "Expected MNIST's raw idx files (torchvision's layout, .gz or not):\n"
        f"  {root}/MNIST/raw/train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]\n"
        f"  {root}/MNIST/raw/t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]\n"
        f"Get them with torchvision.datasets.MNIST('{root}', download=True) or from {_URL}."
    )


def mnist_raw_folder(root: str | Path) -> Path | None:
    """The folder holding the idx files under ``root`` (``root/MNIST/raw``, ``root/raw`` or ``root``)."""
    root = Path(root).expanduser()
    for folder in (root / "MNIST" / "raw", root / "raw", root):
        if any(folder.glob("train-images-idx3-ubyte*")):
            return folder
    return None


def _file(folder: Path, name: str) -> Path:
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            return path
    raise DatasetError(f"MNIST file {folder / name}[.gz] is missing.\n{mnist_layout_help(folder)}")


def _check_header(path: Path, data: bytes, kind: str) -> int:
    """The item count of an idx file after checking its magic number and length; names ``path`` on error."""
    if len(data) < 8:
        raise DatasetError(f"MNIST file {path} is truncated: {len(data)} bytes, shorter than an idx header.")
    magic, n = struct.unpack(">II", data[:8])
    if magic != _MAGIC[kind]:
        raise DatasetError(f"MNIST file {path} has magic number {magic}, expected {_MAGIC[kind]} "
                           f"(idx {kind} file of unsigned bytes); it is not an MNIST {kind} file.")
    header, item = 8, 1  # labels: one byte each after magic and count
    if kind == "images":
        header = 16
        if len(data) < 16:
            raise DatasetError(f"MNIST file {path} is truncated: {len(data)} bytes, shorter than its 16-byte header.")
        rows, cols = struct.unpack(">II", data[8:16])
        item = rows * cols  # images: rows x cols bytes each after magic, count, rows, cols
    expected = header + n * item
    if len(data) != expected:
        raise DatasetError(f"MNIST file {path} is {'truncated' if len(data) < expected else 'too long'}: "
                           f"{len(data)} bytes, its header says {n} {kind} ({expected} bytes).")
    return n


def read_idx(path: Path, kind: Literal["images", "labels"]) -> torch.Tensor:
    """One idx file as a uint8 ``(N, H, W)`` or int64 ``(N,)`` tensor, through torchvision's reader."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:  # a broken .gz
        raise DatasetError(f"MNIST file {path} cannot be read ({type(e).__name__}: {e}).") from e
    _check_header(path, data, kind)
    reader = read_image_file if kind == "images" else read_label_file
    if path.suffix != ".gz":
        return reader(str(path))
    with tempfile.NamedTemporaryFile(suffix="-ubyte") as tmp:  # torchvision reads plain files only
        tmp.write(data)
        tmp.flush()
        return reader(tmp.name)


class MNISTSource(torch.utils.data.Dataset):
    """MNIST's train (60,000) or test (10,000) split.

    Args:
        root: a folder holding ``MNIST/raw`` (torchvision's layout), ``raw`` or the idx files.
        split: "train" or "test" (use test for val, as the paper reports test error).
        pad: zero pixels added on each side; 2 gives LeNet-5's 32x32 input field with the
            28x28 image in its centre (paper Sec. II-A).

    Returns:
        ``__getitem__`` gives ``(uint8 tensor (1, 28 + 2 pad, 28 + 2 pad), int label)``.

    Raises:
        DatasetError: a missing folder or file, a wrong magic number, a truncated file, images
            and labels of different counts, labels outside 0-9.
    """

    classes: ClassVar[list[str]] = [str(d) for d in range(10)]
    num_classes: ClassVar[int] = 10

    def __init__(self, root: str | Path, split: Literal["train", "test"] = "train", pad: int = 0) -> None:
        folder = mnist_raw_folder(root)
        if folder is None:
            raise DatasetError(f"MNIST folder {root} holds no train-images-idx3-ubyte[.gz].\n"
                               f"{mnist_layout_help(Path(root))}")
        images_path = _file(folder, f"{_PREFIX[split]}-images-idx3-ubyte")
        labels_path = _file(folder, f"{_PREFIX[split]}-labels-idx1-ubyte")
        images, labels = read_idx(images_path, "images"), read_idx(labels_path, "labels")
        if len(images) != len(labels):
            raise DatasetError(f"MNIST files {images_path} and {labels_path} disagree: "
                               f"{len(images)} images, {len(labels)} labels.")
        if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) <= 9:
            raise DatasetError(f"MNIST file {labels_path}: labels must lie in 0-9, found {int(labels.max())}.")
        self.images = torch.nn.functional.pad(images, (pad,) * 4).unsqueeze(1)  # (N, 1, 28+2p, 28+2p)
        self.targets = labels.long()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.targets[index])
