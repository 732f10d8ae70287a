"""LeNet-5's input normalisation (``datamodules.pixels.LeCunNormalize``, ``normalize: lecun``)."""

import pytest
import torch

from contracts.errors import ConfigError
from datamodules.classification import ClassificationDataModule
from datamodules.pixels import LeCunNormalize


def scene(bg: float, obj: float, blob: float | None = None) -> torch.Tensor:
    """(1, 1, 32, 32): a flat background, a 12x12 object, optionally a 3x3 distractor blob of another level."""
    x = torch.full((1, 1, 32, 32), bg)
    x[..., 10:22, 10:22] = obj
    if blob is not None:
        x[..., 2:5, 26:29] = blob
    return x


@pytest.mark.parametrize(("bg", "obj"), [(40.0, 200.0), (200.0, 40.0), (120.0, 135.0), (135.0, 120.0)])
def test_background_goes_to_minus_0_1_and_the_object_to_1_175_for_either_polarity(bg, obj):
    out = LeCunNormalize()(scene(bg, obj))
    assert out[0, 0, 0, 0].item() == pytest.approx(-0.1)  # background (a border pixel)
    assert out[0, 0, 15, 15].item() == pytest.approx(1.175)  # object


def test_a_small_high_contrast_distractor_does_not_set_the_polarity():
    # a dark object (-40 levels) and a small very light blob (+120): the object, 144 pixels, decides
    out = LeCunNormalize()(scene(128.0, 88.0, blob=248.0))
    assert out[0, 0, 15, 15].item() == pytest.approx(1.175)
    assert out[0, 0, 3, 27].item() == pytest.approx(-0.1 - 1.275 * 3)  # three object-spans on the other side


def test_an_inverted_image_gives_the_same_input_and_each_image_is_normalised_alone():
    torch.manual_seed(0)
    x = torch.cat([scene(30.0, 180.0, blob=90.0), scene(60.0, 250.0)])
    x = x + torch.rand_like(x)  # sub-threshold noise
    norm = LeCunNormalize()
    assert torch.allclose(norm(255.0 - x), norm(x), atol=1e-4)
    assert torch.allclose(norm(x)[1:], norm(x[1:]), atol=1e-6)


def test_a_blank_image_is_not_blown_up():
    out = LeCunNormalize(min_range=2.0)(torch.full((1, 1, 8, 8), 77.0) + torch.arange(64.0).view(1, 1, 8, 8) % 2)
    assert out.abs().max() < 1.0  # 1 grey level over the 2-level floor: at most 0.64 from -0.1


def test_the_datamodule_option_normalises_train_and_val_batches():
    world = {"image_size": 32, "max_objects": 1, "scale_range": [0.45, 0.85], "clutter": 2, "occlusion": 0.0,
             "background": "flat"}  # the LeNet demo's world
    kw = {"train_size": 16, "val_size": 16, "batch_size": 16, "image_size": 32, "world": world,
          "grayscale": True, "augment": "lenet", "normalize": "lecun"}
    dm = ClassificationDataModule(**kw)
    dm.setup("fit")
    for images, _ in (next(iter(dm.train_dataloader())), next(iter(dm.val_dataloader()))):
        assert images.shape == (16, 1, 32, 32)
        g = images[:, 0]
        border = torch.cat([g[:, 0], g[:, -1], g[:, 1:-1, 0], g[:, 1:-1, -1]], 1)  # each border pixel once
        at_bg = ((border - -0.1).abs() < 1e-4).float().mean(1)  # ShapesWorld's flat background is -0.1 ...
        assert (at_bg > 0.5).all()  # ... on most of every image's border
        assert images.mean().abs() < 0.6 and 0.5 < images.std() < 1.5  # the paper: mean ~0, variance ~1


def test_lecun_needs_a_batched_source():
    with pytest.raises(ConfigError, match="normalize='lecun'"):
        ClassificationDataModule(source="shapes", augment="alexnet", normalize="lecun")
