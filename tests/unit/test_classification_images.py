"""Classification on an ImageFolder: the bad_images policy and the image-size check at setup."""

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from contracts.errors import ConfigError, DatasetError
from datamodules.classification import ClassificationDataModule


def _png(path: Path, side: int, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)  # noise: a PNG of some size, so truncating it cuts pixel data
    Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """ImageNet layout, 32 px PNGs: train 2 classes x 3 images (one truncated), val 2 x 1."""
    for c, name in enumerate(("cat", "dog")):
        for i in range(3):
            _png(tmp_path / "train" / name / f"{i}.png", 32, 10 * c + i)
        _png(tmp_path / "val" / name / "0.png", 32, 100 + c)
    bad = tmp_path / "train" / "cat" / "1.png"
    bad.write_bytes(bad.read_bytes()[:200])  # a copy cut short
    return tmp_path


def _dm(root: Path, **kw) -> ClassificationDataModule:
    args = {"source": "imagefolder", "root": str(root), "image_size": 32, "batch_size": 2, "num_workers": 0, **kw}
    return ClassificationDataModule(**args)


def test_error_policy_raises_naming_the_file_when_it_is_read(folder):
    dm = _dm(folder)
    dm.setup("fit")
    assert len(dm._train) == 6 and dm.skipped_files == []
    with pytest.raises(DatasetError, match="cannot be read as an image") as e:
        [dm._train[i] for i in range(len(dm._train))]
    assert str(folder / "train" / "cat" / "1.png") in str(e.value)


def test_skip_policy_drops_counts_and_lists_the_bad_file(folder, caplog):
    dm = _dm(folder, bad_images="skip")
    with caplog.at_level(logging.WARNING):
        dm.setup("fit")
    bad = str(folder / "train" / "cat" / "1.png")
    assert len(dm._train) == 5 and len(dm._val) == 2
    assert len(dm.skipped_files) == 1 and dm.skipped_files[0].startswith(f"{bad}: ")
    warnings = [r.getMessage() for r in caplog.records if "skipping" in r.getMessage()]
    assert len(warnings) == 1 and "skipping 1 unreadable" in warnings[0] and bad in warnings[0]
    labels = torch.cat([y for _, y in dm.train_dataloader()])  # every remaining file reads
    assert len(labels) == 4 and dm.num_classes == 2  # drop_last: 5 images, batches of 2
    assert [s[0] for s in dm._train.base.samples].count(bad) == 0


def test_images_smaller_than_image_size_with_a_size_keeping_recipe_stop_at_setup(folder):
    for recipe in ("flip", "none"):
        dm = _dm(folder, image_size=64, augment=recipe, bad_images="skip")
        with pytest.raises(ConfigError) as e:
            dm.setup("fit")
        msg = str(e.value)
        assert "32x32 px" in msg and "image_size=64" in msg and f"augment={recipe!r}" in msg
        assert "alexnet, vgg, vit" in msg and str(folder / "train" / "cat" / "0.png") in msg


def test_a_resizing_recipe_serves_image_size(folder):
    dm = _dm(folder, image_size=64, augment="vit", bad_images="skip")
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (2, 3, 64, 64) and labels.dtype == torch.int64


def test_matching_size_with_flip_passes(folder):
    dm = _dm(folder, augment="flip", bad_images="skip")
    dm.setup("fit")
    images, _ = next(iter(dm.val_dataloader()))
    assert images.shape == (2, 3, 32, 32)
