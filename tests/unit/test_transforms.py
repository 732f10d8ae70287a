"""The papers' augmentations: shapes, dtypes and the PCA lighting's statistics."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from datamodules.transforms import (
    IMAGENET_PCA_EIGVAL,
    IMAGENET_PCA_EIGVEC,
    PCALighting,
    build_transforms,
    ten_crop,
)

SIZE, H, W = 32, 36, 44  # input larger than and not square like the output


def _inputs() -> dict[str, object]:
    t = torch.randint(0, 256, (3, H, W), dtype=torch.uint8)
    return {"tensor": t, "pil": Image.fromarray(t.permute(1, 2, 0).numpy())}


@pytest.mark.parametrize("kind", ["tensor", "pil"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("recipe", ["none", "flip", "alexnet", "vgg", "vit", "cifar", "lenet"])
def test_recipe_shapes(recipe: str, train: bool, kind: str) -> None:
    torch.manual_seed(0)
    out = build_transforms(recipe, SIZE, train, (0.5,) * 3, (0.25,) * 3)(_inputs()[kind])
    expected = (3, H, W) if recipe in ("none", "flip", "lenet") else (3, SIZE, SIZE)
    assert type(out) is torch.Tensor and out.dtype == torch.float32 and out.shape == expected


def test_none_normalises_and_pil_matches_tensor() -> None:
    x = _inputs()
    tf = build_transforms("none", SIZE, True, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    a, b = tf(x["tensor"]), tf(x["pil"])
    assert torch.equal(a, b) and torch.allclose(a, x["tensor"] / 127.5 - 1, atol=1e-6)


def test_eval_is_deterministic_and_train_is_not() -> None:
    x = _inputs()["tensor"]
    ev, tr = build_transforms("vgg", SIZE, False), build_transforms("vgg", SIZE, True)
    assert torch.equal(ev(x), ev(x))
    torch.manual_seed(0)
    assert not all(torch.equal(tr(x), tr(x)) for _ in range(3))


def test_unknown_recipe() -> None:
    with pytest.raises(ValueError, match="unknown recipe"):
        build_transforms("mixup", SIZE, True)  # type: ignore[arg-type]


def test_pca_lighting_shifts_colour_uniformly() -> None:
    torch.manual_seed(0)
    img = torch.rand(3, 5, 7)
    out = PCALighting(0.1)(img)
    shift = out - img
    assert out.shape == img.shape and not torch.allclose(out, img)
    # One colour offset per channel, the same at every pixel: illumination, not noise.
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift), atol=1e-6)
    assert isinstance(PCALighting()(tv_tensors.Image(img)), tv_tensors.Image)
    assert torch.equal(PCALighting(0.0)(img), img)


def test_pca_lighting_statistics() -> None:
    torch.manual_seed(0)
    t, n = PCALighting(0.1), 2000
    shifts = torch.stack([t(torch.zeros(3, 1, 1)).flatten() for _ in range(n)])  # (n, 3)
    vec, val = torch.tensor(IMAGENET_PCA_EIGVEC), torch.tensor(IMAGENET_PCA_EIGVAL)
    expected_std = 0.1 * (vec * val).norm(dim=1)  # std of (vec @ (alpha * val)) per channel
    assert shifts.mean(0).abs().max() < 4 * expected_std.max() / n**0.5  # zero mean
    assert torch.allclose(shifts.std(0), expected_std, rtol=0.1)


def test_pca_lighting_needs_float() -> None:
    with pytest.raises(TypeError, match="ToDtype"):
        PCALighting()(torch.zeros(3, 4, 4, dtype=torch.uint8))
    # In a pipeline after ToDtype it accepts PIL input too.
    tf = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), PCALighting()])
    assert tf(_inputs()["pil"]).shape == (3, H, W)


def test_ten_crop() -> None:
    x = torch.rand(2, 3, H, W)
    crops = ten_crop(x, 24)
    assert crops.shape == (10, 2, 3, 24, 24)
    assert torch.equal(crops[0], x[..., :24, :24])  # top-left
    assert torch.equal(crops[4], x[..., 6:30, 10:34])  # centre
    assert torch.equal(crops[5], x.flip(-1)[..., :24, :24])  # top-left of the mirror image
    assert ten_crop(x, (20, 28)).shape == (10, 2, 3, 20, 28)
    with pytest.raises(ValueError, match="batch"):
        ten_crop(x[0], 24)
