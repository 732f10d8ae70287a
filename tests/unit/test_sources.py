"""Classification sources on fixtures written here in the real on-disk formats."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contracts.errors import DatasetError
from datamodules.sources.cifar import CIFARSource
from datamodules.sources.imagefolder import ImageFolderSource

CLASSES = ["n01440764", "n01443537", "n01484850"]


def _write_image(path: Path, color: tuple[int, int, int], mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (8, 6), color)
    img.putpixel((2, 1), (200, 100, 50))  # (x, y): a marker the PNG must return exactly
    img.convert(mode).save(path)


@pytest.fixture
def imagenet(tmp_path: Path) -> Path:
    """train/val, 3 classes; train has 2 JPEGs + 1 PNG per class, val 1 of each."""
    for i, c in enumerate(CLASSES):
        _write_image(tmp_path / "train" / c / f"{c}_1.JPEG", (i * 80, 0, 0))
        _write_image(tmp_path / "train" / c / f"{c}_2.jpg", (i * 80, 0, 0))
        _write_image(tmp_path / "train" / c / f"{c}_3.png", (i * 80, 0, 0))
        _write_image(tmp_path / "val" / c / f"ILSVRC2012_val_{i}.JPEG", (i * 80, 0, 0), mode="L")
    (tmp_path / "train" / CLASSES[0] / "notes.txt").write_text("not an image")  # skipped
    return tmp_path


def test_imagefolder_reads_tree(imagenet: Path) -> None:
    train, val = ImageFolderSource(imagenet, "train"), ImageFolderSource(imagenet, split="val")
    assert (len(train), len(val)) == (9, 3)
    assert train.classes == val.classes == CLASSES and train.num_classes == 3
    assert [y for _, y in (train[i] for i in range(len(train)))] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    png = next(i for i, (p, _) in enumerate(train.samples) if p.endswith(f"{CLASSES[1]}_3.png"))
    img, label = train[png]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (8, 6)
    assert label == 1 and img.getpixel((2, 1)) == (200, 100, 50)
    assert val[0][0].mode == "RGB"  # greyscale JPEG comes back as RGB


def test_imagefolder_transform(imagenet: Path) -> None:
    ds = ImageFolderSource(
        imagenet, "val", transform=lambda im: torch.zeros(3, im.height, im.width)
    )
    assert ds[0][0].shape == (3, 6, 8)


def _message(exc: pytest.ExceptionInfo[DatasetError]) -> str:
    return str(exc.value)


def test_imagefolder_missing_root_and_split(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as e:
        ImageFolderSource(tmp_path / "nope")
    assert str(tmp_path / "nope") in _message(e)
    assert "train/n01440764/" in _message(e) and "image-net.org" in _message(e)
    assert "valprep" in _message(e)
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetError, match="does not exist") as e:
        ImageFolderSource(tmp_path, "val")
    assert str(tmp_path / "val") in _message(e)


def test_imagefolder_no_class_folders(imagenet: Path) -> None:
    (imagenet / "empty").mkdir()
    with pytest.raises(DatasetError, match="no class folders") as e:
        ImageFolderSource(imagenet, "empty")
    assert str(imagenet / "empty") in _message(e)
    _write_image(imagenet / "flat" / "ILSVRC2012_val_00000001.JPEG", (0, 0, 0))
    with pytest.raises(DatasetError, match="valprep") as e:  # ImageNet's val as distributed
        ImageFolderSource(imagenet, "flat")
    assert str(imagenet / "flat") in _message(e)


def test_imagefolder_class_folders_without_images(tmp_path: Path) -> None:
    for c in CLASSES:
        (tmp_path / "train" / c).mkdir(parents=True)
    (tmp_path / "train" / CLASSES[0] / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as e:
        ImageFolderSource(tmp_path, "train")
    assert str(tmp_path / "train") in _message(e) and CLASSES[2] in _message(e)


def test_imagefolder_val_classes_differ_from_train(imagenet: Path) -> None:
    os.rename(imagenet / "val" / CLASSES[2], imagenet / "val" / "n99999999")
    with pytest.raises(DatasetError, match="differ") as e:
        ImageFolderSource(imagenet, "val")
    msg = _message(e)
    assert str(imagenet / "val") in msg and str(imagenet / "train") in msg
    assert CLASSES[2] in msg and "n99999999" in msg


def test_imagefolder_corrupt_image_names_file(imagenet: Path) -> None:
    bad = imagenet / "train" / CLASSES[0] / f"{CLASSES[0]}_1.JPEG"
    bad.write_bytes(b"definitely not a jpeg")
    ds = ImageFolderSource(imagenet)
    with pytest.raises(DatasetError, match="cannot be read") as e:
        ds[[p for p, _ in ds.samples].index(str(bad))]
    assert str(bad) in _message(e)


# --- CIFAR: the official python batches are dicts with bytes keys (Python 2 pickles). ---

N_TRAIN, N_TEST = 3, 4  # images per train batch file / in the test file


def _batch(n: int, labels: list[int], key: bytes = b"labels", seed: int = 0) -> dict:
    data = np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)
    return {
        b"batch_label": b"fixture",
        key: labels,
        b"data": data,
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def _dump(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Protocol 2 and numpy 1's module path, as in the official files (written by numpy 1).
    path.write_bytes(pickle.dumps(obj, protocol=2).replace(b"numpy._core.", b"numpy.core."))


@pytest.fixture
def cifar10(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    for i in range(1, 6):
        b = _batch(N_TRAIN, [(i + j) % 10 for j in range(N_TRAIN)], seed=i)
        if i == 1:  # marker pixel of image 0 at row 1, col 2: planes R, G, B of 1024 each
            b[b"data"][0, [0 * 1024 + 32 + 2, 1024 + 32 + 2, 2048 + 32 + 2]] = [200, 100, 50]
        _dump(b, folder / f"data_batch_{i}")
    _dump(_batch(N_TEST, [9, 8, 7, 6], seed=9), folder / "test_batch")
    names = [
        n.encode()
        for n in [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ]
    ]
    _dump(
        {b"num_cases_per_batch": N_TRAIN, b"label_names": names, b"num_vis": 3072},
        folder / "batches.meta",
    )
    return tmp_path


@pytest.fixture
def cifar100(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-100-python"
    for split, n in (("train", 5), ("test", 2)):
        b = _batch(n, [99 - i for i in range(n)], key=b"fine_labels")
        b[b"coarse_labels"] = [0] * n
        _dump(b, folder / split)
    _dump(
        {
            b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)],
        },
        folder / "meta",
    )
    return tmp_path


def test_cifar10_reads_batches(cifar10: Path) -> None:
    train, test = (
        CIFARSource(cifar10, "train"),
        CIFARSource(cifar10 / "cifar-10-batches-py", "test"),
    )
    assert (len(train), len(test)) == (5 * N_TRAIN, N_TEST)
    assert train.classes[0] == "airplane" and train.num_classes == len(train.classes) == 10
    assert train.targets[: N_TRAIN + 1] == [1, 2, 3, 2] and test.targets == [9, 8, 7, 6]
    assert train.data.shape == (15, 32, 32, 3) and train.data.dtype == np.uint8
    img, label = train[0]
    assert img.dtype == torch.uint8 and img.shape == (3, 32, 32) and label == 1
    assert img[:, 1, 2].tolist() == [200, 100, 50] and train.data[0, 1, 2].tolist() == [
        200,
        100,
        50,
    ]
    raw = _batch(N_TRAIN, [0] * N_TRAIN, seed=2)[b"data"][1]  # image 1 of data_batch_2
    assert torch.equal(train[N_TRAIN + 1][0], torch.from_numpy(raw.reshape(3, 32, 32)))


def test_cifar100_fine_labels(cifar100: Path) -> None:
    train, test = CIFARSource(cifar100, "train", variant=100), CIFARSource(cifar100, "test", 100)
    assert (len(train), len(test), train.num_classes) == (5, 2, 100)
    assert train.targets == [99, 98, 97, 96, 95] and train.classes[99] == "fine99"
    assert train[0][0].shape == (3, 32, 32)


def test_cifar_missing_folder_and_file(tmp_path: Path, cifar10: Path) -> None:
    with pytest.raises(DatasetError, match="cs.toronto.edu") as e:
        CIFARSource(tmp_path / "nowhere", "train")
    assert str(tmp_path / "nowhere") in _message(e) and "data_batch_1" in _message(e)
    gone = cifar10 / "cifar-10-batches-py" / "data_batch_3"
    gone.unlink()
    with pytest.raises(DatasetError, match="missing") as e:
        CIFARSource(cifar10, "train")
    assert str(gone) in _message(e)
    CIFARSource(cifar10, "test")  # the test split does not need it


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x01 not a pickle at all", "not a CIFAR python pickle"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "needs keys"),
        ([1, 2, 3], "not a CIFAR python pickle"),
        ({b"data": np.zeros((2, 1000), np.uint8), b"labels": [0, 1]}, r"\(N, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"\[0, 10\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        (os.system, "unexpected global"),  # pickles may run code; only numpy globals are allowed
    ],
    ids=["garbage", "no-labels", "not-dict", "shape", "label-range", "count", "unsafe-global"],
)
def test_cifar_bad_batch(cifar10: Path, content: object, match: str) -> None:
    bad = cifar10 / "cifar-10-batches-py" / "test_batch"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        _dump(content, bad)
    with pytest.raises(DatasetError, match=match) as e:
        CIFARSource(cifar10, "test")
    assert str(bad) in _message(e)


def test_cifar_bad_arguments(cifar10: Path) -> None:
    with pytest.raises(ValueError, match="use test for val"):
        CIFARSource(cifar10, "val")  # type: ignore[arg-type]
    with pytest.raises(DatasetError, match="cifar-100-python"):
        CIFARSource(cifar10, "train", variant=100)
