"""GAN family: nets and losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lit_modules.losses.gan import (
    clip_weights_,
    critic_loss_wasserstein,
    d_loss_bce,
    g_loss_nonsaturating,
    generator_loss_wasserstein,
    gradient_penalty,
    wasserstein_estimate,
)
from lit_modules.nets.gan import Discriminator, Generator

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
