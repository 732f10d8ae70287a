"""DANN: the gradient reversal layer, the paper's schedules, the module's losses and the domain-pair data."""

from __future__ import annotations

import math

import pytest
import torch

from contracts.errors import ConfigError, DatasetError
from datamodules.domain_adaptation import DomainAdaptationDataModule
from datamodules.shapes.scene import WorldConfig
from lit_modules.dann import DANNModule
from lit_modules.ops.grl import GradientReversal, dann_lambda, grad_reverse
from lit_modules.optim import lr_factor

pytestmark = pytest.mark.unit


def test_grl_is_identity_forward_and_flips_the_gradient_by_lambda():
    x = torch.randn(4, 3, requires_grad=True)
    w = torch.randn(4, 3)
    y = grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -0.3 * w)
    x.grad = None
    (GradientReversal(2.0)(x) * w).sum().backward()
    assert torch.allclose(x.grad, -2.0 * w)


def test_schedules_are_the_papers():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lambda(1.0) == pytest.approx(0.99991, abs=1e-5)
    assert all(dann_lambda(a / 10) < dann_lambda((a + 1) / 10) for a in range(10))
    assert lr_factor(0, schedule="dann", total=100) == 1.0
    assert lr_factor(50, schedule="dann", total=100) == pytest.approx(6 ** -0.75)
    assert lr_factor(100, schedule="dann", total=100) == pytest.approx(11 ** -0.75)


def _step_grads(mode: str) -> dict[str, bool]:
    torch.manual_seed(0)
    m = DANNModule(num_classes=4, mode=mode, image_size=32, width=8)
    m.progress = lambda: 0.5  # no trainer here
    batch = (torch.randn(6, 3, 32, 32), torch.randint(0, 4, (6,)), torch.randn(6, 3, 32, 32), torch.randint(0, 4, (6,)))
    loss = m.training_step(batch, 0)
    loss.backward()
    return {part: any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(m.net, part).parameters())
            for part in ("features", "classifier", "domain")}


def test_dann_trains_the_domain_classifier_and_the_baselines_do_not():
    assert _step_grads("dann") == {"features": True, "classifier": True, "domain": True}
    assert _step_grads("source_only")["domain"] is False
    assert _step_grads("target_oracle")["domain"] is False


def test_reversed_domain_gradient_reaches_the_features():
    """With the class loss switched off, the features' gradient is -lambda times the plain one."""
    torch.manual_seed(0)
    m = DANNModule(num_classes=4, image_size=32, width=8)
    xs, xt = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    feats = m.net.features(torch.cat([xs, xt]))
    dom = torch.cat([torch.zeros(4), torch.ones(4)])
    plain = torch.autograd.grad(torch.nn.functional.binary_cross_entropy_with_logits(m.net.domain(feats), dom), feats)[0]
    rev = torch.autograd.grad(torch.nn.functional.binary_cross_entropy_with_logits(
        m.net.domain(grad_reverse(feats, 0.7)), dom), feats)[0]
    assert torch.allclose(rev, -0.7 * plain)


def test_shapes_domain_pair_batches():
    world = {"image_size": 32, "kinds": ("circle", "square"), "max_objects": 1, "clutter": 0}
    dm = DomainAdaptationDataModule(image_size=32, batch_size=4, train_size=8, val_size=4, num_workers=0,
                                    source_world=WorldConfig(**world, background="flat"),
                                    target_world=WorldConfig(**world, background="texture", seed=1))
    dm.setup("fit")
    xs, ys, xt, yt = next(iter(dm.train_dataloader()))
    assert xs.shape == xt.shape == (4, 3, 32, 32) and xs.dtype == torch.float32
    assert ys.dtype == yt.dtype == torch.long and ys.shape == (4,)
    images, _labels, domains = next(iter(dm.val_dataloader().__class__(dm._val, batch_size=8, collate_fn=dm.collate_fn(dm._val, False))))
    assert domains.tolist() == [0, 1] * 4 and images.shape == (8, 3, 32, 32)
    # flat source: a corner patch is one colour; textured target rarely is
    corner = lambda x: x[:, :, :4, :4].flatten(2).std(2).amax(1)
    assert (corner(images[0::2]) < 1e-6).float().mean() > (corner(images[1::2]) < 1e-6).float().mean()


def test_tagged_domains_interleave_and_keep_the_longer_rest():
    from datamodules.domain_adaptation import TaggedDomains

    ds = TaggedDomains([("s", i) for i in range(3)], [("t", i) for i in range(1)])
    assert [ds[i] for i in range(len(ds))] == [("s", 0, 0), ("t", 0, 1), ("s", 1, 0), ("s", 2, 0)]


def test_missing_datasets_and_mismatched_kinds_fail_with_the_layout(tmp_path):
    with pytest.raises(DatasetError, match="amazon/images/"):
        DomainAdaptationDataModule(source="office31", root=str(tmp_path))
    with pytest.raises(DatasetError, match="MNIST"):
        DomainAdaptationDataModule(source="mnist_mnistm", root=str(tmp_path))
    with pytest.raises(ConfigError, match="target_world.kinds"):
        DomainAdaptationDataModule(source_world=WorldConfig(image_size=32, kinds=("circle", "square")),
                                   target_world=WorldConfig(image_size=32, kinds=("circle", "star")))


def test_trivial_baselines_of_a_domain_pair():
    from experiments.baselines.baseline import baseline_scores

    family, scores = baseline_scores(["configs/dann/demo.yaml"], ["--data.init_args.train_size", "64",
                                                                  "--data.init_args.val_size", "32"])
    assert family == "domain_adaptation"
    assert set(scores["linear_on_source_pixels"]) == {"val/source_acc1", "val/target_acc1"}
    assert 0 <= scores["majority_class"]["val/target_acc1"] <= 1


def _jpgs(folder, n, size=(40, 30)):
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", size, (i * 40, 80, 120)).save(folder / f"frame_{i:04d}.jpg")


def test_office31_and_mnist_mnistm_read_their_layouts(tmp_path):
    import numpy as np
    from PIL import Image

    from experiments.dann_data import main as build_mnistm
    from tests.unit.test_mnist_source import write_idx

    for domain in ("amazon", "webcam"):
        for cls in ("back_pack", "bike"):
            _jpgs(tmp_path / "office31" / domain / "images" / cls, 3 if domain == "amazon" else 2)
    dm = DomainAdaptationDataModule(source="office31", root=str(tmp_path / "office31"), image_size=32,
                                    batch_size=4, num_workers=0)
    dm.setup("fit")
    xs, ys, xt, _yt = next(iter(dm.train_dataloader()))
    assert xs.shape == xt.shape == (4, 3, 32, 32) and set(ys.tolist()) <= {0, 1}
    assert len(dm._val) == 6 + 4  # Office-31 is transductive: source set + whole target set

    rng = np.random.default_rng(0)
    raw = tmp_path / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix in ("train", "t10k"):  # every digit in both splits, as in MNIST
        write_idx(raw, prefix, rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.uint8))
    photos = tmp_path / "bsds"
    photos.mkdir()
    Image.fromarray(rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)).save(photos / "1.jpg")
    build_mnistm(["--mnist", str(tmp_path / "mnist"), "--bsds", str(photos), "--out", str(tmp_path / "mnist" / "mnist_m")])
    assert len(list((tmp_path / "mnist/mnist_m/train").rglob("*.png"))) == 10
    dm = DomainAdaptationDataModule(source="mnist_mnistm", root=str(tmp_path / "mnist"), image_size=28,
                                    batch_size=2, num_workers=0)
    dm.setup("fit")
    xs, ys, xt, _yt = next(iter(dm.train_dataloader()))
    assert xs.shape == xt.shape == (2, 3, 28, 28)


def test_conv_gap_net_pools_to_4w_features_at_any_size_and_sizes_its_domain_classifier():
    from lit_modules.nets.dann import conv_gap

    net = conv_gap(5, width=8, domain_hidden=[16, 12])
    for side in (32, 40):
        feats = net.features(torch.randn(2, 3, side, side))
        assert feats.shape == (2, 32)
        assert net.classifier(feats).shape == (2, 5) and net.domain(feats).shape == (2,)
    assert [m.out_features for m in net.domain if isinstance(m, torch.nn.Linear)] == [16, 12, 1]
    m = DANNModule(num_classes=4, arch="conv_gap", width=8, domain_hidden=[16])
    assert m(torch.randn(3, 3, 32, 32)).shape == (3, 4)


def test_mixed_bn_source_only_lets_batchnorm_see_the_target_batch_without_a_domain_loss():
    """Target images shifted by +3: only with mixed_bn do the first BatchNorm's running means move towards them."""

    def first_bn_mean(mixed: bool) -> float:
        torch.manual_seed(0)
        m = DANNModule(num_classes=4, mode="source_only", arch="conv_gap", width=8, mixed_bn=mixed)
        m.log = lambda *a, **k: None
        m.progress = lambda: 0.5
        torch.manual_seed(1)
        xs, xt = torch.randn(8, 3, 32, 32), torch.randn(8, 3, 32, 32) + 3.0
        loss = m.training_step((xs, torch.randint(0, 4, (8,)), xt, torch.randint(0, 4, (8,))), 0)
        loss.backward()
        assert all(p.grad is None for p in m.net.domain.parameters())  # no domain loss either way
        bn = next(mod for mod in m.net.features if isinstance(mod, torch.nn.BatchNorm2d))
        return bn.running_mean.abs().mean().item()

    assert first_bn_mean(True) > 2 * first_bn_mean(False)
