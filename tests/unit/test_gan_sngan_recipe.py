"""The SNGAN-style conditional recipe's switches: class-conditional BatchNorm in the generator, the hinge
loss, n_dis (generator steps every n_dis batches), Adam's beta2, and their refusals."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from contracts.errors import ConfigError
from lit_modules.cgan import CGAN
from lit_modules.dcgan import DCGAN
from lit_modules.losses.gan import d_loss_hinge, g_loss_hinge
from lit_modules.nets.gan import ConditionalBatchNorm2d, Generator

TINY = {"image_size": 16, "latent_dim": 8, "g_width": 8, "d_width": 8, "features": None, "media_samples": 6}


def test_conditional_batchnorm_is_plain_bn_at_init_then_per_class():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(4, num_classes=3)
    cbn.reset_parameters()
    x, y = torch.randn(6, 4, 5, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    plain = torch.nn.functional.batch_norm(x, None, None, training=True)
    assert torch.allclose(cbn(x, y), plain, atol=1e-5)  # gains 1, biases 0 for every class
    with torch.no_grad():
        cbn.gain.weight[1] = 2.0
        cbn.bias.weight[2] = -1.0
    out = cbn(x, y)
    assert torch.allclose(out[y == 0], plain[y == 0], atol=1e-5)
    assert torch.allclose(out[y == 1], 2 * plain[y == 1], atol=1e-5)
    assert torch.allclose(out[y == 2], plain[y == 2] - 1, atol=1e-5)


def test_batchnorm_conditioned_generator_reads_the_label_only_through_its_norms():
    torch.manual_seed(0)
    g = Generator(latent_dim=8, image_size=16, width=8, num_classes=4, conditioning="batchnorm")
    assert g.embed is None and g.net[0].in_channels == 8  # nothing beside z
    norms = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2  # one per hidden layer at 16 px (4x4, 8x8)
    z, y = torch.randn(5, 8), torch.tensor([0, 1, 2, 3, 0])
    assert g(z, y).shape == (5, 3, 16, 16)
    assert torch.allclose(g(z, y), g(z, (y + 1) % 4), atol=1e-6)  # identical classes at init
    with torch.no_grad():
        norms[0].bias.weight.normal_()
    assert not torch.allclose(g(z, y), g(z, (y + 1) % 4), atol=1e-3)
    with pytest.raises(ValueError, match="pass labels"):
        g(z)
    with pytest.raises(ValueError, match="'concat' or 'batchnorm'"):
        Generator(latent_dim=8, image_size=16, width=8, num_classes=4, conditioning="film")


def test_hinge_losses_by_hand_and_zero_beyond_the_margin():
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, 0.0, 1.0])
    # real: relu(1 - [2, .5, -1]) = [0, .5, 2] -> 5/6; fake: relu(1 + [-3, 0, 1]) = [0, 1, 2] -> 1
    assert d_loss_hinge(real, fake).item() == pytest.approx(2.5 / 3 + 1.0)
    assert d_loss_hinge(torch.tensor([1.5, 3.0]), torch.tensor([-1.2, -4.0])).item() == 0.0
    assert g_loss_hinge(fake).item() == pytest.approx(2.0 / 3)
    r = torch.tensor([3.0, 0.0], requires_grad=True)
    d_loss_hinge(r, torch.tensor([-2.0, -2.0])).backward()
    assert r.grad.tolist() == [0.0, -0.5]  # the separated real sample gets no gradient


def _data(n: int = 64) -> L.LightningDataModule:
    x, y = torch.rand(n, 3, 16, 16) * 2 - 1, torch.arange(n) % 3

    class Data(L.LightningDataModule):
        num_classes = 3

        def train_dataloader(self):
            return DataLoader(TensorDataset(x, y), batch_size=8)

    return Data()


def _fit(m, batches: int) -> None:
    L.Trainer(max_steps=batches, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False, limit_val_batches=0).fit(m, datamodule=_data())


def test_n_dis_steps_the_generator_every_n_dis_batches_with_the_hinge_loss():
    torch.manual_seed(0)
    m = CGAN(num_classes=3, conditioning="projection", g_conditioning="batchnorm", norm="spectral", loss="hinge",
             n_dis=3, beta1=0.0, beta2=0.9, **TINY)
    assert m.d_loss(torch.tensor([0.5]), torch.tensor([0.5])).item() == pytest.approx(2.0)  # hinge, not BCE
    g0 = [p.detach().clone() for p in m.generator.parameters()]
    d0 = [p.detach().clone() for p in m.critic.parameters()]
    _fit(m, 2)  # 2 discriminator batches < n_dis: the generator is untouched
    assert all(torch.equal(a, b) for a, b in zip(g0, m.generator.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, m.critic.parameters(), strict=True))
    m2 = CGAN(num_classes=3, g_conditioning="batchnorm", loss="hinge", n_dis=3, **TINY)
    g0 = [p.detach().clone() for p in m2.generator.parameters()]
    _fit(m2, 3)
    assert not all(torch.equal(a, b) for a, b in zip(g0, m2.generator.parameters(), strict=True))
    opt_g, opt_d = m.configure_optimizers()
    assert opt_g.param_groups[0]["betas"] == (0.0, 0.9) == opt_d.param_groups[0]["betas"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_dis": 0}, "n_dis"),
    ({"loss": "wasserstein"}, "'bce' or 'hinge'"),
    ({"loss": "hinge", "improvements": ["label_smoothing"]}, "label_smoothing"),
])
def test_recipe_refusals(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        DCGAN(**kwargs, **TINY)


def test_cgan_refuses_an_unknown_generator_conditioning():
    with pytest.raises(ConfigError, match="g_conditioning"):
        CGAN(num_classes=3, g_conditioning="film", **TINY)


def test_nearest_upsampling_generator_has_no_transposed_stages_and_the_same_io():
    torch.manual_seed(0)
    g = Generator(latent_dim=8, image_size=32, width=8, num_classes=3, conditioning="batchnorm", upsample="nearest")
    kinds = [type(m).__name__ for m in g.net]
    assert kinds.count("ConvTranspose2d") == 1 and kinds.count("Upsample") == 3  # only the 1x1 -> 4x4 projection
    x = g(torch.randn(4, 8), torch.tensor([0, 1, 2, 0]))
    assert x.shape == (4, 3, 32, 32) and x.abs().max() <= 1
    m = CGAN(num_classes=3, g_conditioning="batchnorm", g_upsample="nearest", **TINY)
    assert any(isinstance(layer, torch.nn.Upsample) for layer in m.generator.net)
    with pytest.raises(ValueError, match="'transposed' or 'nearest'"):
        Generator(latent_dim=8, image_size=16, width=8, upsample="bilinear")
