"""FGSM (Goodfellow 2015) and PGD (Madry 2018) in pixel space [0, 1], L-inf and L2, untargeted or
targeted. A few lines each; tests/unit/test_explain_adversarial.py checks them against an
independent implementation and the epsilon bound.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _grad(model: nn.Module, x: Tensor, y: Tensor, targeted: bool) -> Tensor:
    """Gradient of the loss the attacker ascends: CE to ``y``, negated when it is a target."""
    with torch.enable_grad():  # an attack inside a caller's no_grad block still needs its gradient
        return _ce_grad(model, x.detach().requires_grad_(True), y, targeted)


def _ce_grad(model: nn.Module, x: Tensor, y: Tensor, targeted: bool) -> Tensor:
    # in float64: a confident float32 softmax rounds to exactly one-hot, its CE gradient to exactly
    # zero, and sign(0) would leave the pixel where it is (gradient masking by rounding)
    loss = F.cross_entropy(model(x).double(), y, reduction="sum")
    (g,) = torch.autograd.grad(-loss if targeted else loss, x)
    return g


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, targeted: bool = False) -> Tensor:
    """One step of ``eps * sign(grad)``, clipped to valid pixels."""
    return (x + eps * _grad(model, x, y, targeted).sign()).clamp(0, 1).detach()


def _l2_normalise(v: Tensor) -> Tensor:
    return v / v.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *[1] * (v.ndim - 1))


def _project(x0: Tensor, x: Tensor, eps: float, norm: str) -> Tensor:
    """``x`` brought back into the ``eps`` ball around ``x0`` and into [0, 1]."""
    d = x - x0
    if norm == "linf":
        return within_linf(x0, (x0 + d.clamp(-eps, eps)).clamp(0, 1), eps)
    n = d.flatten(1).norm(dim=1).view(-1, *[1] * (d.ndim - 1))
    d = d * (eps / n.clamp(min=1e-12)).clamp(max=1.0)
    return (x0 + d).clamp(0, 1)


def linf_distance(x0: Tensor, x: Tensor) -> float:
    """``max |x - x0|`` computed exactly (float64 holds the difference of two float32 pixels)."""
    return (x.double() - x0.double()).abs().max().item()


def within_linf(x0: Tensor, x: Tensor, eps: float) -> Tensor:
    """``x`` clipped to the float32 box ``[lo, hi]`` that holds exactly the pixels within ``eps``
    of ``x0``, so the bound holds exactly, not up to rounding (``x0 + d`` in float32 may overshoot
    by an ulp, and ``k/255`` itself is rounded). ``x`` in [0, 1] stays in [0, 1]."""
    x0d = x0.double()
    lo, hi = (x0d - eps).float(), (x0d + eps).float()  # nearest float32: may lie an ulp outside
    lo = torch.where(x0d - lo.double() > eps, torch.nextafter(lo, x0), lo)
    hi = torch.where(hi.double() - x0d > eps, torch.nextafter(hi, x0), hi)
    return torch.max(torch.min(x, hi), lo)


def pgd(model: nn.Module, x: Tensor, y: Tensor, eps: float, steps: int = 10, alpha: float | None = None,
        norm: str = "linf", targeted: bool = False, random_start: bool = True) -> Tensor:
    """Projected gradient descent: ``steps`` signed (L-inf) or normalised (L2) gradient steps of
    ``alpha`` (default 2.5 eps / steps), each projected back into the ``eps`` ball and [0, 1]."""
    alpha = 2.5 * eps / steps if alpha is None else alpha
    adv = x.clone()
    if random_start:
        start = torch.empty_like(x).uniform_(-eps, eps) if norm == "linf" else eps * _l2_normalise(torch.randn_like(x))
        adv = _project(x, x + start, eps, norm)
    for _ in range(steps):
        g = _grad(model, adv, y, targeted)
        step = g.sign() if norm == "linf" else _l2_normalise(g)
        adv = _project(x, adv + alpha * step, eps, norm)
    return adv.detach()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 256) -> float:
    """Top-1 accuracy of ``model`` on ``x``."""
    pred = torch.cat([model(xb).argmax(-1) for xb in x.split(batch)])
    return (pred == y).float().mean().item()


def attack(fn, model: nn.Module, x: Tensor, y: Tensor, batch: int = 100, **kw) -> Tensor:
    """``fn(model, x, y, **kw)`` ``batch`` images at a time."""
    return torch.cat([fn(model, xb, yb, **kw) for xb, yb in zip(x.split(batch), y.split(batch))])
