"""GAN family: nets, losses, manual-optimisation steps, divergence guard, sample-quality metrics,
and the generation datamodule on fixtures in their real on-disk formats (PNG folders, CIFAR pickles)."""

from __future__ import annotations

import pickle
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from contracts.errors import ConfigError, DatasetError
from datamodules.generation import GenerationDataModule
from datamodules.shapes.scene import WorldConfig
from lit_modules.dcgan import DCGAN
from lit_modules.gan import DivergenceError
from lit_modules.losses.gan import (
    clip_weights_,
    critic_loss_wasserstein,
    d_loss_bce,
    g_loss_nonsaturating,
    generator_loss_wasserstein,
    gradient_penalty,
    wasserstein_estimate,
)
from lit_modules.media import sample_grid
from lit_modules.metrics.features import (
    SHAPES_FEATURES,
    InceptionFeatures,
    ShapesFeatureNet,
    load_shapes_features,
)
from lit_modules.metrics.sample_quality import ModeCoverage, SampleQuality, inception_score
from lit_modules.nets.gan import Discriminator, Generator
from lit_modules.wgan import WGAN

WORLD = WorldConfig(image_size=16, kinds=("circle", "square", "cross"), min_objects=1, max_objects=1,
                    scale_range=(0.5, 0.8), clutter=0, occlusion=0.0, background="flat")
TINY = {"image_size": 16, "latent_dim": 8, "g_width": 8, "d_width": 8, "features": None, "media_samples": 4}


# --- nets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [16, 32, 64])
def test_generator_and_critic_shapes(size):
    g, d = Generator(latent_dim=10, image_size=size, width=4), Discriminator(image_size=size, width=4)
    x = g(torch.randn(3, 10))
    assert x.shape == (3, 3, size, size) and x.abs().max() <= 1  # tanh range
    assert d(x).shape == (3,)
    # stages: one stride-2 conv per doubling between 4 px and the image
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in g.modules()) == size.bit_length() - 2
    assert sum(isinstance(m, nn.Conv2d) for m in d.modules()) == size.bit_length() - 2


@pytest.mark.parametrize("size", [8, 24, 48])
def test_image_size_must_be_a_power_of_two_from_16(size):
    with pytest.raises(ValueError, match="power of two >= 16"):
        Generator(image_size=size)
    with pytest.raises(ValueError, match="power of two >= 16"):
        Discriminator(image_size=size)


def test_conditional_nets_use_the_labels():
    torch.manual_seed(0)
    g = Generator(latent_dim=6, image_size=16, width=4, num_classes=3).eval()
    d = Discriminator(image_size=16, width=4, norm="none", num_classes=3)
    z = torch.randn(2, 6).repeat(2, 1)  # same z twice
    y = torch.tensor([0, 0, 2, 2])
    x = g(z, y)
    assert x.shape == (4, 3, 16, 16)
    assert not torch.allclose(x[:2], x[2:])  # the class changes the image for the same z
    assert d(x, y).shape == (4,)
    assert not torch.allclose(d(x, y), d(x, torch.tensor([1, 1, 1, 1])))  # projection term
    with pytest.raises(ValueError, match="pass labels"):
        g(z)
    with pytest.raises(ValueError, match="pass labels"):
        d(x)


@pytest.mark.parametrize("norm", ["batch", "none", "layer"])
def test_critic_norms(norm):
    d = Discriminator(image_size=16, width=4, norm=norm)
    kinds = {type(m) for m in d.modules()}
    assert (nn.BatchNorm2d in kinds) == (norm == "batch") and (nn.GroupNorm in kinds) == (norm == "layer")
    # without batch norm each score depends on its own image only (what the per-sample GP needs)
    x = torch.randn(4, 3, 16, 16)
    if norm != "batch":
        torch.testing.assert_close(d(x)[:2], d(x[:2]))


# --- losses ------------------------------------------------------------------------------------

class _Linear(nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(1) * self.w).sum(1)


def test_gradient_penalty_is_zero_exactly_for_a_unit_norm_linear_critic():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3 * 8 * 8, generator=gen)
    real, fake = torch.randn(6, 3, 8, 8, generator=gen), torch.randn(6, 3, 8, 8, generator=gen)
    unit = _Linear(w / w.norm())  # gradient = w everywhere, norm 1: 1-Lipschitz and tight
    assert float(gradient_penalty(unit, real, fake)) < 1e-8
    double = _Linear(2 * w / w.norm())  # norm 2: penalty = λ (2 - 1)^2
    gp = gradient_penalty(double, real, fake, weight=10.0)
    assert float(gp) == pytest.approx(10.0, rel=1e-5)
    gp.backward()  # create_graph: the penalty trains the critic
    assert double.w.grad is not None and double.w.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(unit, real, fake[:3])


def test_gradient_penalty_positive_for_a_nonlinear_critic():
    torch.manual_seed(0)
    critic = Discriminator(image_size=16, width=4, norm="none")
    real, fake = torch.rand(4, 3, 16, 16) * 2 - 1, torch.rand(4, 3, 16, 16) * 2 - 1
    assert float(gradient_penalty(critic, real, fake)) > 0


def test_wasserstein_loss_signs():
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.0])
    assert float(wasserstein_estimate(real, fake)) == pytest.approx(3.0)
    assert float(critic_loss_wasserstein(real, fake)) == pytest.approx(-3.0)  # critic separates: loss < 0
    assert float(generator_loss_wasserstein(fake)) == pytest.approx(0.5)
    assert generator_loss_wasserstein(real) < generator_loss_wasserstein(fake)  # higher critic score: lower G loss


def test_bce_losses():
    sure, wrong = torch.full((4,), 20.0), torch.full((4,), -20.0)
    assert float(d_loss_bce(sure, wrong)) < 1e-6  # D right on both
    assert float(d_loss_bce(wrong, sure)) > 39  # D wrong on both: 2 * 20
    assert float(d_loss_bce(torch.zeros(4), torch.zeros(4))) == pytest.approx(2 * np.log(2), rel=1e-6)
    assert float(g_loss_nonsaturating(sure)) < float(g_loss_nonsaturating(torch.zeros(4))) < float(
        g_loss_nonsaturating(wrong))
    assert torch.isfinite(d_loss_bce(torch.full((2,), 1e4), torch.full((2,), -1e4)))  # stable at extremes


def test_weight_clipping_bounds_every_parameter():
    d = Discriminator(image_size=16, width=4, norm="batch")
    with torch.no_grad():
        for p in d.parameters():
            p.normal_(0, 1)
    clip_weights_(d, 0.01)
    assert all(float(p.abs().max()) <= 0.01 for p in d.parameters())
    assert any(float(p.abs().max()) == pytest.approx(0.01) for p in d.parameters())
    with pytest.raises(ValueError):
        clip_weights_(d, 0.0)


# --- modules: manual optimisation --------------------------------------------------------------

def _dm(**kw) -> GenerationDataModule:
    args = {"image_size": 16, "world": WORLD, "train_size": 40, "val_size": 16, "batch_size": 8, "num_workers": 0} | kw
    return GenerationDataModule(**args)


def _trainer(tmp_path: Path, batches: int) -> L.Trainer:
    return L.Trainer(max_epochs=1, limit_train_batches=batches, limit_val_batches=0, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     default_root_dir=tmp_path, num_sanity_val_steps=0)


def _snapshot(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def _changed(before: list[torch.Tensor], m: nn.Module) -> bool:
    return all(not torch.equal(b, p) for b, p in zip(before, m.parameters(), strict=True) if p.ndim > 1)


@pytest.mark.parametrize(("make", "batches"), [
    (lambda: DCGAN(**TINY), 1),
    (lambda: WGAN(lipschitz="clip", n_critic=5, **TINY), 5),
    (lambda: WGAN(lipschitz="gp", n_critic=2, **TINY), 2),
    (lambda: WGAN(lipschitz="gp", n_critic=1, num_classes=3, **TINY), 1),
], ids=["dcgan", "wgan-clip", "wgan-gp", "wgan-gp-conditional"])
def test_training_steps_update_both_nets(make, batches, tmp_path):
    L.seed_everything(0, verbose=False)
    m = make()
    g0, d0 = _snapshot(m.generator), _snapshot(m.critic)
    _trainer(tmp_path, batches).fit(m, _dm())
    assert _changed(g0, m.generator) and _changed(d0, m.critic)
    if isinstance(m, WGAN) and m.hparams.lipschitz == "clip":
        assert all(float(p.abs().max()) <= m.hparams.clip + 1e-7 for p in m.critic.parameters())


def test_wgan_generator_steps_only_every_n_critic(tmp_path):
    m = WGAN(lipschitz="gp", n_critic=3, **TINY)
    g0 = _snapshot(m.generator)
    _trainer(tmp_path, 2).fit(m, _dm())  # 2 critic steps < n_critic: G untouched
    assert all(torch.equal(b, p) for b, p in zip(g0, m.generator.parameters(), strict=True))


def test_wgan_paper_defaults_and_refusals():
    clip, gp = WGAN(lipschitz="clip", **TINY), WGAN(lipschitz="gp", **TINY)
    assert (clip.opt_name, clip.lr) == ("rmsprop", 5e-5) and (gp.opt_name, gp.lr, gp.betas) == ("adam", 1e-4, (0.0, 0.9))
    assert WGAN(lipschitz="clip", lr_scale=5, **TINY).lr == pytest.approx(2.5e-4)  # the papers' ratio kept
    assert any(isinstance(x, nn.BatchNorm2d) for x in clip.critic.modules())
    assert not any(isinstance(x, nn.BatchNorm2d) for x in gp.critic.modules())
    with pytest.raises(ConfigError, match="batch norm"):
        WGAN(lipschitz="gp", norm="batch", **TINY)


def test_nan_loss_stops_training_naming_the_loss_and_step(tmp_path):
    m = DCGAN(**TINY | {"finite_check_every": 1})
    images = torch.rand(16, 3, 16, 16) * 2 - 1
    images[8:] = float("nan")  # the second batch is broken
    loader = DataLoader(TensorDataset(images, torch.full((16,), -1)), batch_size=8)
    with pytest.raises(DivergenceError, match=r"train/d_loss.* became NaN/inf at training step 1 \(epoch 0, batch 1\)"):
        _trainer(tmp_path, 2).fit(m, loader)


def test_generator_size_must_match_the_data(tmp_path):
    with pytest.raises(ConfigError, match="image_size=32 but the data .* is 16 px"):
        _trainer(tmp_path, 1).fit(DCGAN(**TINY | {"image_size": 32}), _dm())
    with pytest.raises(ConfigError, match="num_classes=4"):
        _trainer(tmp_path, 1).fit(DCGAN(**TINY | {"num_classes": 4}), _dm())


def test_wandb_media_is_the_fixed_noise_grid():
    import wandb

    m = DCGAN(**TINY | {"media_samples": 6, "num_classes": 3})
    media = m.wandb_media((torch.zeros(2, 3, 16, 16), torch.zeros(2, dtype=torch.long)), None)
    assert isinstance(media["val/samples"], wandb.Image)
    assert m.fixed_labels.tolist() == [0, 1, 2, 0, 1, 2]  # one column per class in a 3-wide grid


def test_fixed_noise_samples_and_grid():
    a, b = DCGAN(**TINY), DCGAN(**TINY)
    torch.testing.assert_close(a.fixed_noise, b.fixed_noise)  # the same z in every run
    s = a.samples()
    assert s.shape == (4, 3, 16, 16) and a.generator.training  # sampled in eval mode, mode restored
    grid = sample_grid(s, nrow=2, padding=2)
    assert grid.shape == (2 + 2 * 18, 2 + 2 * 18, 3) and grid.dtype == np.uint8
    assert sample_grid(-torch.ones(1, 3, 4, 4), padding=0).max() == 0  # fixed range, no per-image stretch


# --- metrics -----------------------------------------------------------------------------------

def _shapes_images(n: int, world: WorldConfig, split: str = "val") -> tuple[torch.Tensor, torch.Tensor]:
    from datamodules.shapes.views import ShapesClassification

    view = ShapesClassification(split, n, world)
    items = [view[i] for i in range(n)]
    return torch.stack([x for x, _ in items]).float() / 127.5 - 1, torch.tensor([y for _, y in items])


def test_shipped_feature_classifier_classifies_shapesworld():
    net = load_shapes_features()
    world = WorldConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in net.world.items()})
    assert net.image_size == world.image_size and net.kinds == world.kinds
    images, labels = _shapes_images(200, world)
    acc = float((net.logits(images).argmax(1) == labels).float().mean())
    assert acc > 0.9
    assert SHAPES_FEATURES.stat().st_size < 1e6  # small enough to ship in the repository


def test_fid_kid_of_a_set_with_itself_is_zero_and_with_noise_large():
    torch.manual_seed(0)
    images, _ = _shapes_images(200, WORLD)
    features = ShapesFeatureNet(3, image_size=16, width=8, feature_dim=32)  # any fixed features will do
    q = SampleQuality(features, "shapes", kid_subset_size=50, kid_subsets=20)
    q.update(images, images)
    same = q.compute()
    q.reset()
    q.update(images, torch.rand_like(images) * 2 - 1)
    noise = q.compute()
    assert set(same) == {"fid_shapes", "kid_shapes", "mode_coverage"}
    q.reset()
    q.update(images[:100], images[100:])  # two halves of one distribution
    halves = q.compute()
    assert float(noise["fid_shapes"]) > 0 and float(noise["kid_shapes"]) > 0
    assert float(halves["fid_shapes"]) < 0.25 * float(noise["fid_shapes"])
    assert abs(float(same["fid_shapes"])) < 1e-3 * float(noise["fid_shapes"])
    assert abs(float(same["kid_shapes"])) < 0.05 * float(noise["kid_shapes"])


def test_inception_features_from_a_local_file(tmp_path):
    from torchvision.models import inception_v3

    path = tmp_path / "inception.pth"
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict(), path)
    q = SampleQuality(InceptionFeatures(path), "inception", kid_subset_size=2, coverage=False, inception_score=True)
    q.train()
    assert not q.features.training  # a fixed instrument, whatever mode the module is put in
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert q.features(x).shape == (3, 2048) and q.features.logits(x).shape == (3, 1000)
    q.update(x, x.flip(3))
    assert set(q.compute()) == {"fid_inception", "kid_inception", "is_inception"}
    with pytest.raises(ConfigError, match="inception_weights.*not found"):
        DCGAN(**TINY | {"inception_weights": str(tmp_path / "missing.pth")})
    with pytest.raises(ConfigError, match="features.*gan-features"):
        DCGAN(**TINY | {"features": str(tmp_path / "missing.pt")})


def test_mode_coverage_and_inception_score():
    m = ModeCoverage(4)
    m.update(torch.zeros(100, dtype=torch.long))  # collapsed onto one class
    assert float(m.compute()) == 0.25
    m.reset()
    m.update(torch.tensor([0] * 40 + [1] * 40 + [2] * 15 + [3] * 5))  # 5 % < 1/(4*4): class 3 missing
    assert float(m.compute()) == 0.75
    confident = torch.eye(10).repeat(10, 1) * 50  # every class equally often, each image sure
    assert float(inception_score(confident, splits=2)) == pytest.approx(10, rel=1e-3)
    assert float(inception_score(torch.zeros(100, 10), splits=2)) == pytest.approx(1.0)


def test_feature_net_resizes_other_image_sizes():
    net = ShapesFeatureNet(3, image_size=32, width=4, feature_dim=8).eval()
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 8) and net.logits(torch.zeros(2, 3, 16, 16)).shape == (2, 3)


# --- datamodule on real formats ----------------------------------------------------------------

def _png(path: Path, size: tuple[int, int], color: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_shapes_batches_are_in_unit_range_with_labels():
    dm = _dm()
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 3, 16, 16) and x.dtype == torch.float32
    assert -1 <= float(x.min()) < 0 < float(x.max()) <= 1
    assert y.dtype == torch.long and set(y.tolist()) <= {0, 1, 2} and dm.num_classes == 3
    with pytest.raises(ConfigError, match="world.image_size"):
        GenerationDataModule(image_size=32, world=WORLD)


def test_flat_image_folder(tmp_path):
    for i in range(10):
        _png(tmp_path / f"img_{i:02d}.png", (40 + i, 30), (255, 0, 0) if i % 2 else (0, 0, 255))
    dm = GenerationDataModule("imagefolder", str(tmp_path), image_size=16, batch_size=4, holdout=5, num_workers=0)
    dm.setup("fit")
    assert len(dm._train) == 8 and len(dm._val) == 2  # every 5th image held out
    assert dm.num_classes is None
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (2, 3, 16, 16) and y.tolist() == [-1, -1]
    assert torch.allclose(x[0, 2], torch.ones(16, 16)) and torch.allclose(x[0, 0], -torch.ones(16, 16))  # blue


def test_class_folder_image_folder_with_splits(tmp_path):
    for split in ("train", "val"):
        for c, color in (("cats", (0, 255, 0)), ("dogs", (255, 255, 255))):
            for i in range(3):
                _png(tmp_path / split / c / f"{i}.jpg", (20, 24), color)
    dm = GenerationDataModule("imagefolder", str(tmp_path), image_size=16, batch_size=6, num_workers=0)
    dm.setup("fit")
    assert dm.num_classes == 2 and dm.class_names == ["cats", "dogs"]
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (6, 3, 16, 16) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]
    # conditional DCGAN on it: labels reach the nets
    _trainer(tmp_path, 1).fit(DCGAN(**TINY | {"num_classes": 2}), dm)
    # train/ without val/: validation is held out of train/
    only_train = tmp_path / "only"
    for i in range(4):
        _png(only_train / "train" / "a" / f"{i}.png", (16, 16), (0, 0, 0))
    held = GenerationDataModule("imagefolder", str(only_train), image_size=16, holdout=4, num_workers=0)
    held.setup("fit")
    assert (len(held._train), len(held._val)) == (3, 1)


def test_image_folder_bad_input(tmp_path):
    with pytest.raises(DatasetError, match="no image files"):
        GenerationDataModule("imagefolder", str(tmp_path), image_size=16)._raw(True)
    with pytest.raises(DatasetError, match="is not a folder"):
        GenerationDataModule("imagefolder", str(tmp_path / "missing"))
    _png(tmp_path / "a.png", (8, 8), (0, 0, 0))
    _png(tmp_path / "cls" / "b.png", (8, 8), (0, 0, 0))
    with pytest.raises(DatasetError, match="both images and class folders"):
        GenerationDataModule("imagefolder", str(tmp_path), image_size=16)._raw(True)
    flat = tmp_path / "flat"
    for i in range(3):
        _png(flat / f"{i}.png", (8, 8), (0, 0, 0))
    (flat / "0.png").write_bytes(b"not a png")
    ds = GenerationDataModule("imagefolder", str(flat), image_size=16, holdout=2)._raw(False)
    with pytest.raises(DatasetError, match=r"0\.png: cannot be read"):
        ds[0]


def _dump(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=2).replace(b"numpy._core.", b"numpy.core."))  # as the official files


def test_cifar10_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        data[:, :1024] = 255  # red plane saturated
        _dump({b"batch_label": b"fixture", b"labels": [(i + j) % 10 for j in range(4)], b"data": data}, folder / name)
    _dump({b"label_names": [f"c{k}".encode() for k in range(10)], b"num_vis": 3072}, folder / "batches.meta")
    dm = GenerationDataModule("cifar10", str(tmp_path), image_size=32, batch_size=4, num_workers=0)
    dm.setup("fit")
    assert len(dm._train) == 20 and len(dm._val) == 4 and dm.num_classes == 10
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (4, 3, 32, 32) and torch.all(x[:, 0] == 1) and y.tolist() == [5, 6, 7, 8]
    up = GenerationDataModule("cifar10", str(tmp_path), image_size=64, batch_size=4, num_workers=0)
    up.setup("validate")
    assert next(iter(up.val_dataloader()))[0].shape == (4, 3, 64, 64)  # resized to the generator's size
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        GenerationDataModule("cifar10", str(tmp_path / "nowhere"))
