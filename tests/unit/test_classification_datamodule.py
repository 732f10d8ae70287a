"""The classification batch contract, from ShapesWorld and from on-disk fixtures."""

import pickle

import numpy as np
import pytest
import torch

from contracts.errors import ConfigError, DatasetError
from datamodules.classification import ClassificationDataModule
from datamodules.shapes.scene import WorldConfig


def small(**kw) -> ClassificationDataModule:
    return ClassificationDataModule(train_size=64, val_size=32, batch_size=16, **kw)


def test_shapes_batch_contract():
    dm = small()
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (16, 3, 64, 64) and images.dtype == torch.float32
    assert labels.shape == (16,) and labels.dtype == torch.int64
    assert dm.num_classes == 8 and 0 <= labels.min() and labels.max() < 8
    assert abs(images.mean()) < 1.5  # normalised, not raw 0..255


def test_cached_equals_generated():
    cached, lazy = small(augment="none"), small(augment="none", cache=False, num_workers=0)
    cached.setup("validate")
    lazy.setup("validate")
    a, la = next(iter(cached.val_dataloader()))
    b, lb = next(iter(lazy.val_dataloader()))
    assert torch.equal(a, b) and torch.equal(la, lb)


def test_ten_crop_test_batches():
    dm = small(ten_crop=True, augment="none")
    dm.setup("test")
    images, _ = next(iter(dm.test_dataloader()))
    assert images.shape == (16, 10, 3, 64, 64)


def test_world_size_must_match_input_size():
    with pytest.raises(ConfigError, match="world.image_size"):
        ClassificationDataModule(image_size=32, world=WorldConfig(image_size=64))


def test_missing_roots_fail_at_construction(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "imagenet")):
        ClassificationDataModule(source="imagefolder", root=str(tmp_path / "imagenet"))
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        ClassificationDataModule(source="cifar10", root=str(tmp_path))


def _write_cifar10(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                         b"labels": [0, 1, 2, 9]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, f, protocol=2)


def test_cifar_fixture_through_the_datamodule(tmp_path):
    _write_cifar10(tmp_path)
    dm = ClassificationDataModule(source="cifar10", root=str(tmp_path), image_size=32, augment="cifar",
                                  batch_size=4, num_workers=0)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 32, 32) and dm.num_classes == 10
    assert set(labels.tolist()) <= {0, 1, 2, 9}
    assert len(dm.train_dataloader().dataset) == 20  # five batches of four
