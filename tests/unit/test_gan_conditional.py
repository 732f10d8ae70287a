"""Conditional GAN, InfoGAN and the improved-GAN switches: conditioning shapes, the projection
discriminator's output, the mutual-information loss on known codes, what each switch does to the
losses, the code->kind matching, and a class outside a conditional model's range."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from contracts.errors import ConfigError
from lit_modules.cgan import CGAN
from lit_modules.dcgan import DCGAN
from lit_modules.infogan import InfoGAN
from lit_modules.losses.gan import (
    HistoricalAverage,
    d_loss_bce,
    feature_matching_loss,
    g_loss_nonsaturating,
)
from lit_modules.losses.infogan import mutual_information_loss
from lit_modules.metrics.code_matching import code_accuracy, foreground_area, spearman
from lit_modules.nets.gan import Discriminator, Generator, MinibatchDiscrimination
from lit_modules.nets.infogan import QHead

TINY = {"image_size": 16, "latent_dim": 8, "g_width": 8, "d_width": 8, "features": None, "media_samples": 6}


# --- conditioning -------------------------------------------------------------------------------

@pytest.mark.parametrize("conditioning", ["projection", "concat"])
def test_conditional_nets_shapes_and_labels_matter(conditioning):
    torch.manual_seed(0)
    g = Generator(latent_dim=8, image_size=16, width=8, num_classes=4, embed_dim=3).eval()
    d = Discriminator(image_size=16, width=8, norm="none", num_classes=4, conditioning=conditioning)
    z, y = torch.randn(5, 8), torch.tensor([0, 1, 2, 3, 0])
    x = g(z, y)
    assert x.shape == (5, 3, 16, 16)
    assert not torch.allclose(x, g(z, (y + 1) % 4))  # the class changes the sample
    features, scores = d.features_and_score(x, y)
    assert scores.shape == (5,) and features.shape == (5, d.num_features)
    with torch.no_grad():
        for layer in (d.embed,) if d.embed is not None else ():
            layer.weight.normal_()  # dcgan_init's 0.02 makes the label's effect tiny; make it visible
    assert not torch.allclose(d(x, y), d(x, (y + 1) % 4))
    with pytest.raises(ValueError, match="pass labels"):
        d(x)


def test_projection_discriminator_adds_embed_dot_features():
    torch.manual_seed(0)
    d = Discriminator(image_size=16, width=8, norm="none", num_classes=3, conditioning="projection")
    plain = Discriminator(image_size=16, width=8, norm="none")
    plain.load_state_dict({k: v for k, v in d.state_dict().items() if not k.startswith("embed")})
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([2, 0, 1, 2])
    pooled = d.features(x).sum((2, 3))  # (B, c)
    expected = plain(x) + (d.embed.weight[y] * pooled).sum(1)
    assert torch.allclose(d(x, y), expected, atol=1e-5)


def test_concat_discriminator_reads_one_hot_planes():
    d = Discriminator(image_size=16, width=8, norm="none", num_classes=5, conditioning="concat")
    assert d.features[0].in_channels == 3 + 5 and d.embed is None


# --- InfoGAN ------------------------------------------------------------------------------------

def test_mi_loss_on_known_codes():
    cat, cont = torch.tensor([0, 2, 1]), torch.tensor([[0.5], [-0.3], [0.9]])
    sure = F.one_hot(cat, 3).float() * 50  # Q certain of the right value, exact means
    assert mutual_information_loss(sure, cont.clone(), cat, cont).item() == pytest.approx(0.0, abs=1e-6)
    uniform = torch.zeros(3, 3)  # Q knows nothing: cross-entropy log K, plus 0.5·(c - 0)² weighted
    expected = math.log(3) + 0.1 * 0.5 * cont.pow(2).mean().item()
    got = mutual_information_loss(uniform, torch.zeros(3, 1), cat, cont, continuous_weight=0.1)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    wrong = F.one_hot((cat + 1) % 3, 3).float() * 50
    assert mutual_information_loss(wrong, cont, cat, cont) > got


def test_infogan_codes_round_trip_and_q_learns_them():
    torch.manual_seed(0)
    m = InfoGAN(categorical=3, continuous=2, **TINY)
    inputs = m.noise(12)
    assert inputs.shape == (12, 8 + 3 + 2)
    cat, cont = m.codes_of(inputs)
    assert cat.shape == (12,) and cont.shape == (12, 2) and cont.abs().max() <= 1
    assert torch.equal(inputs[:, 8:11].argmax(1), cat) and (inputs[:, 8:11].sum(1) == 1).all()
    assert m.samples().shape == (3 * 8, 3, 16, 16) and m.traversal(1).shape == (64, 3, 16, 16)
    # Q alone, on fixed features carrying the code, drives the MI loss down (the head is wired right)
    q = QHead(6, 3, 2)
    feats = torch.cat([F.one_hot(cat, 3).float(), cont, torch.randn(12, 1)], 1)
    opt = torch.optim.Adam(q.parameters(), 1e-2)
    first = None
    for _ in range(150):
        loss = mutual_information_loss(*q(feats), cat, cont)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_code_accuracy_under_a_permutation():
    kinds = torch.arange(60) % 6
    perm = torch.tensor([3, 5, 0, 1, 4, 2])
    codes = perm[kinds]  # a relabelling of the kinds: perfect under the best matching
    assert code_accuracy(codes, kinds, 6, 6) == 1.0
    codes_noisy = codes.clone()
    codes_noisy[:6] = (codes_noisy[:6] + 1) % 6  # 6 of 60 moved to another code
    assert code_accuracy(codes_noisy, kinds, 6, 6) == pytest.approx(54 / 60)
    assert code_accuracy(torch.zeros(60, dtype=torch.long), kinds, 6, 6) == pytest.approx(10 / 60)  # one code


def test_foreground_area_orders_sizes():
    images = -torch.ones(3, 3, 16, 16)  # black background
    for i, r in enumerate((2, 4, 6)):
        images[i, :, 8 - r : 8 + r, 8 - r : 8 + r] = 1.0
    area = foreground_area(images)
    assert torch.allclose(area, torch.tensor([16, 64, 144]) / 256.0)
    assert spearman(torch.tensor([0.1, 0.5, 0.9]), area) == pytest.approx(1.0)


# --- improved-GAN switches ----------------------------------------------------------------------

def test_one_sided_label_smoothing_moves_only_the_real_target():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    smooth = d_loss_bce(real, fake, real_label=0.9)
    by_hand = (0.9 * F.softplus(-real) + 0.1 * F.softplus(real)).mean() + F.softplus(fake).mean()
    assert smooth.item() == pytest.approx(by_hand.item())
    assert d_loss_bce(real, fake).item() == pytest.approx((F.softplus(-real).mean() + F.softplus(fake).mean()).item())
    # the fake term is the same: changing fakes changes both losses by the same amount
    assert (d_loss_bce(real, fake + 1, 0.9) - smooth).item() == pytest.approx(
        (d_loss_bce(real, fake + 1) - d_loss_bce(real, fake)).item())


def test_feature_matching_compares_batch_means():
    real = torch.randn(8, 5)
    assert feature_matching_loss(real, real[torch.randperm(8)]).item() == pytest.approx(0.0, abs=1e-6)
    shifted = real + torch.tensor([1.0, 0, 0, 2.0, 0])
    assert feature_matching_loss(real, shifted).item() == pytest.approx(5.0, rel=1e-5)


def test_historical_average_penalises_distance_to_past_mean():
    net = torch.nn.Linear(2, 1, bias=False)
    hist = HistoricalAverage(net, weight=0.5)
    assert hist.penalty().item() == 0.0  # no history yet
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, 1.0]]))
    hist.update()
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[3.0, 1.0]]))
    hist.update()  # mean (2, 1)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[4.0, 0.0]]))
    assert hist.penalty().item() == pytest.approx(0.5 * (2.0**2 + 1.0**2))


def test_minibatch_discrimination_sees_a_collapsed_batch():
    torch.manual_seed(0)
    mb = MinibatchDiscrimination(6, kernels=4, dims=3)
    diverse = torch.randn(5, 6) * 3
    collapsed = diverse[:1].repeat(5, 1)
    out_d, out_c = mb(diverse), mb(collapsed)
    assert out_d.shape == (5, 6 + 4) and torch.equal(out_d[:, :6], diverse)
    assert torch.allclose(out_c[:, 6:], torch.full((5, 4), 4.0))  # 4 identical neighbours: exp(0) each
    assert (out_d[:, 6:] < out_c[:, 6:]).all()


def test_switches_change_the_dcgan_losses():
    torch.manual_seed(0)
    plain = DCGAN(**TINY)
    real, fake = torch.rand(6, 3, 16, 16) * 2 - 1, torch.rand(6, 3, 16, 16) * 2 - 1
    fm = DCGAN(improvements=["feature_matching"], **TINY)
    fm.critic.load_state_dict(plain.critic.state_dict())
    assert plain.g_loss(real, fake, None).item() == pytest.approx(g_loss_nonsaturating(plain.critic(fake)).item())
    feats = lambda x: fm.critic.features_and_score(x)[0]
    assert fm.g_loss(real, fake, None).item() == pytest.approx(feature_matching_loss(feats(real), feats(fake)).item(),
                                                               rel=1e-4)
    ls = DCGAN(improvements=["label_smoothing"], real_label=0.8, **TINY)
    logits = torch.tensor([1.0, 2.0]), torch.tensor([0.0, -1.0])
    assert ls.d_loss(*logits).item() == pytest.approx(d_loss_bce(*logits, 0.8).item())
    assert plain.d_loss(*logits).item() == pytest.approx(d_loss_bce(*logits).item())
    mb = DCGAN(improvements=["minibatch_discrimination"], minibatch_kernels=7, **TINY)
    assert mb.critic.minibatch is not None and mb.critic.minibatch.kernels == 7 and plain.critic.minibatch is None
    ha = DCGAN(improvements=["historical_averaging"], **TINY)
    assert set(ha.history) == {"generator", "critic"} and not plain.history
    with pytest.raises(ConfigError, match="improvements"):
        DCGAN(improvements=["dropout"], **TINY)


# --- bad input ----------------------------------------------------------------------------------

def test_class_outside_range_is_refused():
    m = CGAN(num_classes=3, **TINY)
    assert m.generate(torch.tensor([0, 2])).shape == (2, 3, 16, 16)
    with pytest.raises(ConfigError, match=r"class 3 is outside .* range 0\.\.2"):
        m.generate(torch.tensor([1, 3]))
    with pytest.raises(ConfigError, match="class -1"):
        m.check_labels(torch.tensor([-1]))
    with pytest.raises(ConfigError, match="unconditional"):
        DCGAN(**TINY).check_labels(torch.tensor([0]))
    with pytest.raises(ConfigError, match="num_classes"):
        CGAN(num_classes=0, **TINY)


def test_predict_class_outside_range_exits_2_with_one_line(tmp_path, capsys):
    from experiments.build import build
    from experiments.cli import main

    config = "configs/cgan/demo.yaml"
    small = ["--model.init_args.g_width", "4", "--model.init_args.d_width", "4", "--data.init_args.val_size", "8",
             "--data.init_args.train_size", "8"]
    model, _, _ = build([config], small)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    torch.save({"state_dict": model.state_dict()}, ckpt)
    main(["predict", "--config", config, *small, "--ckpt_path", str(ckpt), "--classes", "1", "4"])
    assert (tmp_path / "predictions" / "samples.png").is_file()  # two rows, 8 samples each
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["predict", "--config", config, *small, "--ckpt_path", str(ckpt), "--classes", "2", "6"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["paperlab: error: class 6 is outside this conditional generator's range 0..5 (6 classes)"]


# --- MNIST for the generation family ------------------------------------------------------------

def test_mnist_generation_data_and_digit_classifier(tmp_path):
    import numpy as np

    from datamodules.generation import GenerationDataModule
    from experiments.baselines.gan_features import main as gan_features
    from lit_modules.metrics.features import load_shapes_features
    from tests.unit.test_mnist_source import write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 64), ("t10k", 10)):
        write_idx(raw, prefix, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), (np.arange(n) % 10).astype(np.uint8))
    dm = GenerationDataModule(source="mnist", root=str(tmp_path), image_size=32, batch_size=4, num_workers=0)
    assert dm.num_classes == 10
    dm.setup("fit")
    images, _ = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images[:, 0], images[:, 2]) and (images[:, :, :2] == -1).all()  # grey; 2 px zero padding
    assert dm.class_names == [str(d) for d in range(10)]
    out = tmp_path / "mnist_features.pt"
    gan_features(["--mnist", str(tmp_path), "--out", str(out), "--train-size", "64", "--val-size", "10",
                  "--epochs", "1", "--width", "4", "--feature-dim", "8"])
    net = load_shapes_features(out)
    assert net.kinds == tuple(str(d) for d in range(10)) and net.logits(images).shape == (4, 10)


def test_spectral_norm_critic_has_unit_spectral_norms():
    torch.manual_seed(0)
    d = Discriminator(image_size=16, width=8, norm="spectral", num_classes=3)
    x, y = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
    for _ in range(20):  # power iterations (one per training-mode forward)
        d(x, y)
    d.eval()
    for m in (d.features[0], d.features[2], d.embed):
        w = m.weight.flatten(1) if m.weight.ndim > 2 else m.weight
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, rel=0.05)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())


def test_code_scores_accumulate_over_batches():
    from lit_modules.metrics.code_matching import CodeScores

    scores = CodeScores(num_codes=3, num_kinds=3, num_continuous=2)
    perm = torch.tensor([2, 0, 1])
    for start in (0, 6):  # two batches of 6
        cat = torch.arange(start, start + 6) % 3
        images = -torch.ones(6, 3, 16, 16)
        cont = torch.stack([torch.linspace(-1, 1, 6), torch.zeros(6)], 1)  # code 0 grows with size, code 1 constant
        for i in range(6):
            images[i, :, 8 - (i + 1) : 8 + (i + 1), 8 - (i + 1) : 8 + (i + 1)] = 1.0
        scores.update(cat, F.one_hot(perm[cat], 3).float(), cont, images)
    assert scores.seen == 12
    out = scores.compute()
    assert out["code_acc"] == 1.0 and out["code_size_rho"] == pytest.approx(1.0, abs=0.15)
    scores.reset()
    assert scores.compute() == {}


class _ToyClassifier(torch.nn.Module):
    """Reads the class off the image's mean brightness: class k ~ mean (k - 1); 2-d features."""

    num_features, num_classes = 2, 3

    def forward(self, images):
        m = images.mean((1, 2, 3))
        return torch.stack([m, images.std((1, 2, 3))], 1)

    def logits(self, images):
        m = images.mean((1, 2, 3))[:, None]
        return -(m - torch.tensor([-1.0, 0.0, 1.0])).abs()


def test_conditional_quality_cond_acc_and_per_class_fid():
    from lit_modules.metrics.conditional import ConditionalQuality

    torch.manual_seed(0)
    labels = torch.arange(30) % 3
    images = (labels.float() - 1)[:, None, None, None] + 0.1 * torch.randn(30, 3, 4, 4)
    q = ConditionalQuality(_ToyClassifier(), ["a", "b", "c"], tag="toy")
    q.update(images, labels, images.flip(0), labels.flip(0))  # fakes drawn right for the class asked
    out = q.compute()
    assert out["cond_acc"].item() == 1.0 and set(out) == {"cond_acc", "fid_toy_a", "fid_toy_b", "fid_toy_c"}
    q.reset()
    q.update(images, labels, images, (labels + 1) % 3)  # every fake of the wrong class
    wrong = q.compute()
    assert wrong["cond_acc"].item() == 0.0 and wrong["fid_toy_a"] > out["fid_toy_a"]


# --- AC-GAN (conditioning="auxiliary") ----------------------------------------------------------

def test_auxiliary_discriminator_predicts_the_class_and_its_score_ignores_it():
    torch.manual_seed(0)
    d = Discriminator(image_size=16, width=8, norm="none", num_classes=4, conditioning="auxiliary")
    x, y = torch.randn(5, 3, 16, 16), torch.tensor([0, 1, 2, 3, 0])
    pooled, score = d.features_and_score(x, y)
    assert d.class_logits(pooled).shape == (5, 4) and d.embed is None and d.features[0].in_channels == 3
    assert torch.equal(score, d(x, (y + 1) % 4))
    with pytest.raises(ValueError, match="auxiliary"):
        Discriminator(image_size=16, width=8, num_classes=4).class_logits(pooled)


@pytest.mark.parametrize("aux_on_fakes", [True, False])  # False: the critic's class head learns from real images only
def test_acgan_steps_teach_the_critic_the_classes_and_the_generator_to_follow_them(aux_on_fakes):
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    colours = torch.tensor([[1.0, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]])  # class k: one flat colour
    y = torch.arange(256) % 4
    x = colours[y][:, :, None, None].expand(-1, -1, 16, 16).clone()

    class Data(L.LightningDataModule):
        num_classes = 4

        def train_dataloader(self):
            return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

    m = CGAN(num_classes=4, conditioning="auxiliary", aux_on_fakes=aux_on_fakes, lr=2e-3, **{**TINY, "g_width": 16})
    L.Trainer(max_steps=240, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(m, datamodule=Data())
    m.eval()
    with torch.no_grad():
        real_acc = (m.critic.class_logits(m.critic.features_and_score(x, y)[0]).argmax(1) == y).float().mean()
        fake = m.generate(y[:64])
        nearest = torch.cdist(fake.mean((2, 3)), colours).argmin(1)  # the colour each sample drew
    assert real_acc > 0.95
    assert (nearest == y[:64]).float().mean() > 0.9  # chance 0.25


@pytest.mark.parametrize("aux_on_fakes, critic_class_batches", [(True, 2), (False, 1)])
def test_acgan_critic_class_head_reads_fakes_only_when_asked(aux_on_fakes, critic_class_batches):
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % 4

    class Data(L.LightningDataModule):
        num_classes = 4

        def train_dataloader(self):
            return DataLoader(TensorDataset(x, y), batch_size=8)

    m = CGAN(num_classes=4, conditioning="auxiliary", aux_on_fakes=aux_on_fakes, **TINY)
    calls, head = [], m.critic.class_logits
    m.critic.class_logits = lambda pooled: calls.append(len(pooled)) or head(pooled)
    L.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(m, datamodule=Data())
    # one step: the critic's update calls its class head on the reals (and the fakes), the generator's once
    assert calls == [8] * (critic_class_batches + 1)


def test_degrade_blurs_and_noises_the_chosen_share_only():
    from experiments.baselines.gan_features import degrade

    torch.manual_seed(0)
    x = torch.zeros(16, 3, 16, 16)
    x[:, :, 4:12, 4:12] = 1.0  # a sharp square
    x = x * 2 - 1
    assert torch.equal(degrade(x, 0.0), x)
    out = degrade(x, 1.0)
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    changed = (out - x).abs().flatten(1).amax(1) > 1e-3
    assert changed.all()
    edge = (out[:, :, 8, 3] - x[:, :, 8, 3]).abs().mean()  # just outside the square: the blur spreads it
    assert edge > 0.01


def test_gan_probe_on_a_checkpoint_needs_one():
    from experiments.gan_probes import main as probes

    with pytest.raises(ConfigError, match="--ckpt"):
        probes(["--mode", "ckpt"])
