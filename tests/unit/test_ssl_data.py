"""SSL data: STL-10 binaries, two-view augmentation, the datamodule's batch contract, bad input."""

import numpy as np
import pytest
import torch

from contracts.batches import check_two_views
from contracts.errors import ConfigError, DatasetError
from datamodules.shapes.scene import WorldConfig
from datamodules.sources.stl10 import STL10Source
from datamodules.ssl import SSLDataModule, _TwoViewCollate
from datamodules.ssl_augment import BatchTwoViews, TwoViews, two_view_pipeline


def _write_stl10(folder, n_train=4, n_test=3, n_unlabeled=5):
    """The official layout: uint8 3x96x96 per image, each channel column-major; labels 1..10."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        hwc = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)  # what the images look like
        images[split] = hwc
        hwc.transpose(0, 3, 2, 1).tofile(folder / f"{split}_X.bin")  # (N, C, W, H) = column-major planes
    (np.arange(n_train) % 10 + 1).astype(np.uint8).tofile(folder / "train_y.bin")
    (np.arange(n_test) % 10 + 1).astype(np.uint8).tofile(folder / "test_y.bin")
    return images


def test_stl10_reader_gives_images_row_major_and_labels_from_zero(tmp_path):
    images = _write_stl10(tmp_path / "stl10_binary")
    train = STL10Source(tmp_path, "train")
    assert len(train) == 4 and train.num_classes == 10
    img, label = train[1]
    assert img.shape == (3, 96, 96) and img.dtype == torch.uint8 and label == 1
    assert torch.equal(img, torch.from_numpy(images["train"][1]).permute(2, 0, 1))  # not transposed
    unlabeled = STL10Source(tmp_path / "stl10_binary", "unlabeled")
    assert len(unlabeled) == 5 and unlabeled[0][1] == -1


def test_stl10_bad_files_name_the_file(tmp_path):
    folder = tmp_path / "stl10_binary"
    _write_stl10(folder)
    (folder / "test_X.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(DatasetError, match="test_X.bin.*not a whole number"):
        STL10Source(tmp_path, "test")
    (folder / "train_y.bin").write_bytes(bytes([1, 2, 11, 3]))
    with pytest.raises(DatasetError, match="train_y.bin.*1..10"):
        STL10Source(tmp_path, "train")
    with pytest.raises(DatasetError, match="train_X.bin is missing"):
        STL10Source(tmp_path / "elsewhere", "train")


def test_batch_two_views_are_two_different_augmentations():
    images = torch.randint(0, 256, (8, 3, 40, 40), dtype=torch.uint8)
    views = BatchTwoViews(32, (0.5,) * 3, (0.25,) * 3)(images)
    assert views.shape == (8, 2, 3, 32, 32) and views.dtype == torch.float32
    assert (views[:, 0] - views[:, 1]).abs().mean() > 0.1  # independent crops, colours, blur
    assert views.isfinite().all()


def test_batch_two_views_without_randomness_is_the_resized_image():
    # min_scale 1 and no jitter/grey/blur: the only randomness left is the flip
    aug = BatchTwoViews(16, (0.0,) * 3, (1.0,) * 3, min_scale=1.0, jitter_p=0.0, gray_p=0.0, blur_p=0.0)
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    x = images.float() / 255
    for view in aug(images).unbind(1):
        for v, orig in zip(view, x):
            assert torch.allclose(v, orig, atol=1e-5) or torch.allclose(v, orig.flip(2), atol=1e-5)


def test_per_sample_pipeline_returns_two_different_views():
    pipe = two_view_pipeline(24, (0.5,) * 3, (0.25,) * 3)
    views = pipe(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8))
    assert views.shape == (2, 3, 24, 24) and not torch.allclose(views[0], views[1])


def test_a_one_view_transform_is_a_clear_error():
    one_view = _TwoViewCollate(lambda images: images.float())  # (B, 3, H, W): no second view
    samples = [(torch.zeros(3, 8, 8, dtype=torch.uint8), 0)] * 4
    with pytest.raises(ValueError, match="two augmented views.*one view per image"):
        one_view(samples)
    with pytest.raises(TypeError, match="two views stacked"):
        check_two_views((torch.zeros(2, 3, 8, 8),), "test")
    views = TwoViews(lambda im: im.float())(torch.zeros(3, 8, 8))
    assert check_two_views(views.unsqueeze(0), "test").shape == (1, 2, 3, 8, 8)


def test_shapes_datamodule_batch_contract():
    world = WorldConfig(image_size=32, kinds=("circle", "square", "triangle"), seed=0)
    dm = SSLDataModule("shapes", image_size=32, batch_size=8, eval_batch_size=16, bank_size=20, world=world,
                       train_size=40, val_size=24)
    dm.setup("fit")
    assert dm.num_classes == 3
    views, labels = next(iter(dm.train_dataloader()))
    assert views.shape == (8, 2, 3, 32, 32) and labels.shape == (8,) and labels.dtype == torch.long
    bank, val = dm.val_dataloader()
    assert sum(len(y) for _, y in bank) == 20 and sum(len(y) for _, y in val) == 24
    images, labels = next(iter(val))
    assert images.shape == (16, 3, 32, 32) and int(labels.max()) < 3


def test_datamodule_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 images"):
        SSLDataModule("shapes", image_size=64, batch_size=1)
    with pytest.raises(DatasetError, match="STL-10"):
        SSLDataModule.check_data("stl10", str(tmp_path / "none"))
    with pytest.raises(DatasetError, match="train/"):
        SSLDataModule.check_data("imagefolder", str(tmp_path))


def _batches(loader):
    return [(x.shape, y) for x, y in loader]


def test_stl10_through_the_datamodule_pretrains_on_unlabeled_and_train(tmp_path):
    _write_stl10(tmp_path / "stl10_binary", n_train=4, n_test=3, n_unlabeled=6)
    dm = SSLDataModule("stl10", str(tmp_path), image_size=48, batch_size=5, eval_batch_size=4, num_workers=0,
                       bank_size=3)
    dm.setup("fit")
    assert len(dm._train) == 10 and dm.num_classes == 10  # 6 unlabeled + 4 labelled
    labels = torch.cat([y for _, y in dm.train_dataloader()])
    assert sorted(labels.tolist()) == [-1] * 6 + [0, 1, 2, 3]
    views, _ = next(iter(dm.train_dataloader()))
    assert views.shape == (5, 2, 3, 48, 48)
    bank, test = dm.val_dataloader()
    assert [s for s, _ in _batches(bank)] == [(3, 3, 48, 48)]  # 96 px resized to the input size
    assert sum(len(y) for _, y in test) == 3


def test_cifar10_and_imagefolder_through_the_datamodule(tmp_path):
    from tests.unit.test_classification_datamodule import _write_cifar10
    from tests.unit.test_sources import _write_image

    _write_cifar10(tmp_path / "cifar")
    dm = SSLDataModule("cifar10", str(tmp_path / "cifar"), image_size=32, batch_size=4, num_workers=0, bank_size=8)
    dm.setup("fit")
    views, labels = next(iter(dm.train_dataloader()))
    assert views.shape == (4, 2, 3, 32, 32) and set(labels.tolist()) <= {0, 1, 2, 9}
    assert sum(len(y) for _, y in dm.val_dataloader()[0]) == 8

    for split in ("train", "val"):
        for c in range(2):
            for i in range(3):
                _write_image(tmp_path / "folder" / split / f"class{c}" / f"{i}.png", (c * 200, 50, 0))
    dm = SSLDataModule("imagefolder", str(tmp_path / "folder"), image_size=16, batch_size=4, num_workers=0)
    dm.setup("fit")
    views, labels = next(iter(dm.train_dataloader()))
    assert views.shape == (4, 2, 3, 16, 16) and dm.num_classes == 2
    images, labels = next(iter(dm.val_dataloader()[1]))
    assert images.shape == (4, 3, 16, 16)
