"""LeNet-5's distortions (``datamodules.distortions``) and the "lenet" recipe of the classification datamodule."""

import pytest
import torch

from contracts.errors import ConfigError
from datamodules.classification import ClassificationDataModule
from datamodules.distortions import AffineDistort


def square(n: int = 8, side: int = 32, lo: int = 12, hi: int = 20) -> torch.Tensor:
    x = torch.zeros(n, 1, side, side)
    x[:, :, lo:hi, lo:hi] = 255.0
    return x


def centroid_and_extent(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (B, 1, H, W): the (x, y) centre of mass and the (x, y) width of the bright region."""
    w = img[:, 0] / 255.0
    ys, xs = torch.meshgrid(torch.arange(w.shape[1]).float(), torch.arange(w.shape[2]).float(), indexing="ij")
    mass = w.sum((1, 2))
    cx, cy = (w * xs).sum((1, 2)) / mass, (w * ys).sum((1, 2)) / mass
    ex, ey = (w.amax(1) > 0.5).sum(1), (w.amax(2) > 0.5).sum(1)
    return torch.stack([cx, cy], 1), torch.stack([ex, ey], 1).float()


def test_zero_ranges_are_the_identity_and_uint8_stays_uint8():
    x = square()
    assert torch.equal(AffineDistort(0.0, (1, 1), (1, 1), 0.0)(x), x)
    u8 = square().to(torch.uint8)[0]  # (C, H, W) too
    out = AffineDistort()(u8)
    assert out.dtype == torch.uint8 and out.shape == u8.shape


def test_translation_moves_the_object_by_at_most_the_range():
    torch.manual_seed(0)
    x = square(64)
    c0, _ = centroid_and_extent(x)
    c1, e1 = centroid_and_extent(AffineDistort(translate=0.0625, scale=(1, 1), squeeze=(1, 1), shear=0.0)(x))
    shift = (c1 - c0).abs()
    assert shift.max() <= 2.0 + 1e-3 and shift.max() > 1.0  # +-2 px of 32, and it does move
    assert torch.allclose(e1, torch.full_like(e1, 8.0), atol=1.0)  # a pure shift keeps the size


def test_squeeze_compresses_one_axis_and_elongates_the_other():
    torch.manual_seed(0)
    _, e = centroid_and_extent(AffineDistort(translate=0.0, scale=(1, 1), squeeze=(1.25, 1.25), shear=0.0)(square(2)))
    assert (e[:, 0] >= 9).all() and (e[:, 1] <= 7).all()  # x scaled by 1.25, y by 1 / 1.25


def test_lenet_recipe_distorts_training_batches_only():
    kw = {"train_size": 16, "val_size": 16, "batch_size": 16, "image_size": 32, "world": {"image_size": 32},
          "grayscale": True}
    plain, distorted = ClassificationDataModule(augment="none", **kw), ClassificationDataModule(augment="lenet", **kw)
    for dm in (plain, distorted):
        dm.setup("fit")
    torch.manual_seed(0)
    a, la = next(iter(plain.train_dataloader()))
    b, lb = next(iter(distorted.train_dataloader()))
    assert b.shape == a.shape == (16, 1, 32, 32) and torch.equal(la, lb)
    assert not torch.allclose(a, b)
    assert torch.equal(next(iter(plain.val_dataloader()))[0], next(iter(distorted.val_dataloader()))[0])


@pytest.mark.parametrize("augment", ["alexnet", "cifar"])
def test_grayscale_still_refuses_resizing_recipes(augment):
    with pytest.raises(ConfigError, match="'lenet'"):
        ClassificationDataModule(augment=augment, grayscale=True, image_size=32, world={"image_size": 32})
