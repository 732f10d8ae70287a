"""CIFAR-10/100 from the official *python* batches, read with pickle directly."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from contracts.errors import DatasetError

_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
# variant -> (folder name, train files, test files, meta file, labels key, meta names key)
_LAYOUT = {
    10: (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "batches.meta",
        "labels",
        "label_names",
    ),
    100: ("cifar-100-python", ["train"], ["test"], "meta", "fine_labels", "fine_label_names"),
}
# The only globals a CIFAR batch needs (numpy arrays; bytes under Python 3's protocol 2).
# Anything else is refused, because unpickling a file can otherwise run arbitrary code.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module[len("numpy.core.") :]  # numpy 1 pickle on numpy 2
        return super().find_class(module, name)


def _load_dict(path: Path, variant: int) -> dict[str, Any]:
    """Unpickle one CIFAR file into a dict with ``str`` keys."""
    if not path.is_file():
        raise DatasetError(f"CIFAR file {path} is missing. {cifar_download_help(path.parent, variant)}")
    try:
        with open(path, "rb") as f:
            # encoding='bytes': the official files are Python 2 pickles whose str keys and
            # names only load faithfully as bytes.
            obj = _CifarUnpickler(f, encoding="bytes").load()
    except Exception as e:  # any failure at all means "not a CIFAR pickle"
        raise DatasetError(
            f"{path} is not a CIFAR python pickle ({type(e).__name__}: {e}). "
            + cifar_download_help(path.parent, variant)
        ) from e
    if not isinstance(obj, dict):
        raise DatasetError(f"{path} is not a CIFAR python pickle (holds {type(obj).__name__}).")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def cifar_download_help(folder: Path, variant: int) -> str:
    name, train, test, meta, *_ = _LAYOUT[variant]
    return (
        f"Get the *python* version ({name.replace('-batches-py', '-python')}.tar.gz) from {_URL} "
        f"and extract it so that {folder} holds {', '.join(train + test + [meta])}."
    )


class CIFARSource(torch.utils.data.Dataset):
    """CIFAR-10 or CIFAR-100 (fine labels), read from the official python batches.

    Our own reader rather than ``torchvision.datasets.CIFAR10``: torchvision checks the md5 of
    every official file, which rejects small test fixtures and reports any problem as "not
    found or corrupted"; here each problem names its file.

    Args:
        root: The folder holding ``cifar-10-batches-py``/``cifar-100-python``, or that folder.
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        variant: 10 or 100.
        transform: Optional callable applied to the image tensor.

    Returns:
        ``__getitem__`` gives ``(uint8 tensor [3, 32, 32], int label)``. ``data`` is the whole
        split as a uint8 array (N, 32, 32, 3); ``targets`` the labels as ``list[int]``.

    Raises:
        DatasetError: Missing folder or file, a file that is not a CIFAR pickle, data of the
            wrong shape or labels out of range.
    """

    def __init__(
        self,
        root: str | Path,
        split: Literal["train", "test"] = "train",
        variant: Literal[10, 100] = 10,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if variant not in _LAYOUT:
            raise ValueError(f"variant must be 10 or 100, got {variant!r}")
        if split not in ("train", "test"):
            raise ValueError(
                f"CIFAR has splits 'train' and 'test' (use test for val), got {split!r}"
            )
        name, train_files, test_files, meta_file, labels_key, names_key = _LAYOUT[variant]
        root = Path(root).expanduser()
        folder = root if root.name == name or (root / meta_file).is_file() else root / name
        if not folder.is_dir():
            raise DatasetError(
                f"CIFAR-{variant} folder {folder} does not exist. {cifar_download_help(folder, variant)}"
            )
        self.variant, self.split, self.transform = variant, split, transform

        meta = _load_dict(folder / meta_file, variant)
        if names_key not in meta or len(meta[names_key]) != variant:
            raise DatasetError(f"{folder / meta_file} lacks {variant} '{names_key}'.")
        self.classes: list[str] = [
            n.decode() if isinstance(n, bytes) else n for n in meta[names_key]
        ]

        arrays, self.targets = [], []
        for fname in train_files if split == "train" else test_files:
            data, labels = self._read_batch(folder / fname, labels_key)
            arrays.append(data)
            self.targets += labels
        # The files store each image channel-planar (R 1024, G 1024, B 1024, each row-major);
        # keep HWC like torchvision's .data so it views directly with PIL or matplotlib.
        self.data = np.ascontiguousarray(
            np.concatenate(arrays).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        )

    def _read_batch(self, path: Path, labels_key: str) -> tuple[np.ndarray, list[int]]:
        d = _load_dict(path, self.variant)
        if "data" not in d or labels_key not in d:
            raise DatasetError(
                f"{path} is not a CIFAR-{self.variant} batch: it needs keys 'data' and "
                f"'{labels_key}', found {sorted(map(str, d))}."
            )
        data = d["data"]
        try:
            labels = [int(x) for x in d[labels_key]]
        except (TypeError, ValueError) as e:
            raise DatasetError(f"{path}: '{labels_key}' must be a list of ints ({e}).") from e
        if (
            not isinstance(data, np.ndarray)
            or data.dtype != np.uint8
            or data.ndim != 2
            or data.shape[1] != 3072
        ):
            got = f"{getattr(data, 'shape', type(data).__name__)} {getattr(data, 'dtype', '')}"
            raise DatasetError(f"{path}: 'data' must be a uint8 array (N, 3072), got {got}.")
        if len(labels) != len(data):
            raise DatasetError(f"{path}: {len(data)} images but {len(labels)} labels.")
        bad = [y for y in labels if not 0 <= y < self.variant]
        if bad:
            raise DatasetError(f"{path}: labels must lie in [0, {self.variant}), found {bad[:5]}.")
        return data, labels

    @property
    def num_classes(self) -> int:
        """10 or 100."""
        return self.variant

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        # contiguous() copies, so a transform that works in place cannot alter the dataset.
        image = torch.from_numpy(self.data[index]).permute(2, 0, 1).contiguous()  # (3, 32, 32)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]
