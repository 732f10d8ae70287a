"""FGSM and PGD (experiments.explain.adversarial) against an independent implementation and
their epsilon bounds, on a tiny net."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from experiments.explain import adversarial as adv
from experiments.explain import synthesis


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(24, 4))
    return net.eval().requires_grad_(False)


def _reference_grad(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d CE / dx written out by hand: softmax minus one-hot through autograd of the logits only."""
    x = x.clone().requires_grad_(True)
    logits = net(x).double()
    p = logits.softmax(-1)
    dlogits = p - nn.functional.one_hot(y, p.shape[-1]).double()  # d CE_sum / d logits
    (g,) = torch.autograd.grad(logits, x, grad_outputs=dlogits)
    return g


def test_fgsm_is_x_plus_eps_sign_grad_clipped():
    net, x, y = _net(), torch.rand(5, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0])
    eps = 4 / 255
    want = (x + eps * _reference_grad(net, x, y).sign()).clamp(0, 1)
    assert torch.equal(adv.fgsm(net, x, y, eps), want)


@pytest.mark.parametrize("eps", [1 / 255, 8 / 255, 0.3])
def test_pgd_linf_stays_in_the_ball_and_the_image(eps):
    net, x, y = _net(), torch.rand(5, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0])
    x = torch.randint(0, 256, x.shape).float() / 255  # pixels as images hold them
    out = adv.pgd(net, x, y, eps=eps, steps=7)
    assert (out.double() - x.double()).abs().max().item() <= eps  # exactly: no rounding slack
    assert adv.linf_distance(x, out) <= eps and out.min() >= 0 and out.max() <= 1
    assert (out != x).float().mean() > 0.5  # and it did move


def test_fgsm_moves_every_pixel_by_eps_up_to_float32_rounding():
    net, x, y = _net(), torch.full((2, 3, 8, 8), 0.5), torch.tensor([0, 1])
    out = adv.fgsm(net, x, y, 4 / 255)
    assert torch.allclose((out - x).abs(), torch.full_like(x, 4 / 255), atol=1e-7)


def test_pgd_l2_stays_in_the_ball():
    net, x, y = _net(), torch.rand(5, 3, 8, 8), torch.tensor([0, 1, 2, 3, 0])
    out = adv.pgd(net, x, y, eps=0.5, steps=7, norm="l2")
    assert (out - x).flatten(1).norm(dim=1).max().item() <= 0.5 + 1e-5


def test_pgd_without_random_start_follows_the_reference_iteration():
    net, x, y = _net(), torch.rand(3, 3, 8, 8), torch.tensor([0, 1, 2])
    eps, alpha, steps = 8 / 255, 2 / 255, 5
    ref = x.clone()
    for _ in range(steps):  # Madry 2018: ascend, then project onto the ball and the image
        ref = ref + alpha * _reference_grad(net, ref, y).sign()
        ref = torch.min(torch.max(ref, x - eps), x + eps).clamp(0, 1)
    got = adv.pgd(net, x, y, eps=eps, steps=steps, alpha=alpha, random_start=False)
    assert torch.allclose(got, ref, atol=1e-6)  # up to the one-ulp pull-back that makes the bound exact


def test_attacks_lower_accuracy_and_pgd_beats_fgsm_on_its_own_model():
    net, x = _net(), torch.rand(64, 3, 8, 8)
    with torch.no_grad():
        y = net(x).argmax(-1)  # clean accuracy 1 by construction
    eps = 0.1
    acc_fgsm = adv.accuracy(net, adv.fgsm(net, x, y, eps), y)
    acc_pgd = adv.accuracy(net, adv.pgd(net, x, y, eps=eps, steps=20), y)
    assert acc_pgd <= acc_fgsm < 1.0


def test_targeted_pgd_moves_towards_the_target():
    net, x = _net(), torch.rand(16, 3, 8, 8)
    target = torch.full((16,), 2)
    with torch.no_grad():
        before = net(x).log_softmax(-1)[:, 2].mean()
        after = net(adv.pgd(net, x, target, eps=0.2, steps=10, targeted=True)).log_softmax(-1)[:, 2].mean()
    assert after > before


def test_fooling_images_reach_the_target_confidence_and_stay_images():
    net = _net()
    imgs, steps = synthesis.fooling_images(net, torch.arange(4), 8, target=0.9, max_steps=300, lr=0.1)
    with torch.no_grad():
        conf = net(imgs).softmax(-1).diagonal()
    assert imgs.min() >= 0 and imgs.max() <= 1
    reached = steps < 300
    assert (conf[reached] >= 0.9).all()


def test_within_linf_makes_the_bound_exact_and_keeps_what_is_inside():
    x0 = torch.arange(256).float() / 255  # every 8-bit level, each itself a rounded float32
    for eps in (1 / 255, 2 / 255, 8 / 255):
        far = torch.cat([torch.zeros(256), torch.ones(256), x0 + eps, x0 - eps]).clamp(0, 1)
        base = x0.repeat(4)
        out = adv.within_linf(base, far, eps)
        assert (out.double() - base.double()).abs().max().item() <= eps and out.min() >= 0 and out.max() <= 1
        assert torch.equal(adv.within_linf(x0, x0, eps), x0)
