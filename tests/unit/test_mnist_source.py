"""MNIST's raw idx files (fixtures written in the exact format) and the grayscale classification data."""

import gzip
import struct

import numpy as np
import pytest
import torch

from contracts.errors import ConfigError, DatasetError
from datamodules.classification import ClassificationDataModule
from datamodules.sources.mnist import MNISTSource
from tests.conftest import ROOT, paperlab_in_process


def write_idx(folder, prefix, images, labels, gz=False):
    """``{prefix}-images-idx3-ubyte`` and ``{prefix}-labels-idx1-ubyte`` as LeCun's format has them."""
    n, rows, cols = images.shape
    blobs = {f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 2051, n, rows, cols) + images.tobytes(),
             f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 2049, n) + labels.tobytes()}
    for name, data in blobs.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n, gz in (("train", 20, False), ("t10k", 8, True)):
        write_idx(raw, prefix, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  (np.arange(n) % 10).astype(np.uint8), gz=gz)
    return tmp_path


def test_reads_plain_and_gzipped_idx_files_with_padding(mnist_root):
    train = MNISTSource(mnist_root, "train")
    raw = (mnist_root / "MNIST/raw/train-images-idx3-ubyte").read_bytes()
    assert len(train) == 20 and train[3][1] == 3
    assert torch.equal(train[0][0][0], torch.frombuffer(bytearray(raw[16:16 + 784]), dtype=torch.uint8).view(28, 28))
    test = MNISTSource(mnist_root, "test", pad=2)  # the .gz files
    image, label = test[7]
    assert image.shape == (1, 32, 32) and image.dtype == torch.uint8 and label == 7
    assert image[:, :2].sum() == 0 and image[:, :, -2:].sum() == 0  # the paper's 32x32 field: zero border


def test_wrong_magic_number_names_the_file(mnist_root):
    path = mnist_root / "MNIST/raw/train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[:4] = struct.pack(">I", 2051)  # an images magic in a labels file
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte has magic number 2051, expected 2049"):
        MNISTSource(mnist_root, "train")


def test_truncated_file_names_the_file(mnist_root):
    path = mnist_root / "MNIST/raw/train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte is truncated: .* says 20 images"):
        MNISTSource(mnist_root, "train")


def test_cli_exits_2_with_one_line_on_a_truncated_file(mnist_root, tmp_path):
    path = mnist_root / "MNIST/raw/t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-3]))
    code, _, stderr = paperlab_in_process(
        "fit", "--config", str(ROOT / "configs/trainer/smoke.yaml"), "--config", str(ROOT / "configs/lenet/mnist.yaml"),
        "--data.init_args.root", str(mnist_root), cwd=tmp_path)
    assert code == 2, stderr[-2000:]
    assert "t10k-labels-idx1-ubyte.gz is truncated" in stderr and "Traceback" not in stderr


def test_mnist_datamodule_batches_are_one_channel_32px(mnist_root):
    dm = ClassificationDataModule(source="mnist", root=str(mnist_root), image_size=32, augment="none", batch_size=8)
    dm.setup("fit")
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 1, 32, 32) and images.dtype == torch.float32 and labels.dtype == torch.int64
    assert dm.num_classes == 10 and dm.dataset_name == "MNIST"
    assert images[0, 0, 0, 0].item() == pytest.approx(-0.1307 / 0.3081, abs=1e-5)  # padding = black


def test_grayscale_shapes_batches_are_the_luma_of_the_colour_ones():
    kw = {"source": "shapes", "image_size": 32, "augment": "none", "batch_size": 4, "train_size": 4,
          "val_size": 4, "world": {"image_size": 32}, "cache": False}
    colour, gray = ClassificationDataModule(**kw), ClassificationDataModule(grayscale=True, **kw)
    for dm in (colour, gray):
        dm.setup("fit")
    c, _ = next(iter(colour.val_dataloader()))
    g, _ = next(iter(gray.val_dataloader()))
    assert g.shape == (4, 1, 32, 32)
    pixels = c * 0.25 + 0.5  # back to [0, 1]
    luma = (pixels * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(g * 0.25 + 0.5, luma, atol=1e-5)


def test_grayscale_needs_shapes_with_a_size_keeping_recipe():
    with pytest.raises(ConfigError, match="grayscale"):
        ClassificationDataModule(source="shapes", augment="alexnet", grayscale=True)
