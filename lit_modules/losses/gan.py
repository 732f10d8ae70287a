"""GAN objectives as pure functions: non-saturating BCE (Goodfellow 2014, DCGAN), Wasserstein
critic/generator losses (Arjovsky et al. 2017) with weight clipping, and the gradient penalty of
WGAN-GP (Gulrajani et al. 2017).

Scores are the raw outputs of the discriminator/critic, shape (B,): logits for the BCE losses,
unbounded critic values for the Wasserstein ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def d_loss_bce(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator BCE: -log D(x) - log(1 - D(G(z))), averaged; D = sigmoid(logit).

    ``softplus(-l) = -log sigmoid(l)`` and ``softplus(l) = -log(1 - sigmoid(l))``, stable for any logit.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss_nonsaturating(fake_logits: Tensor) -> Tensor:
    """Generator's non-saturating loss -log D(G(z)) (strong gradients when D rejects the fakes)."""
    return F.softplus(-fake_logits).mean()


def wasserstein_estimate(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic's estimate of W(P_r, P_g): E[f(x)] - E[f(G(z))] (up to the Lipschitz constant)."""
    return real_scores.mean() - fake_scores.mean()


def critic_loss_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss E[f(G(z))] - E[f(x)]: minimising it maximises the Wasserstein estimate."""
    return fake_scores.mean() - real_scores.mean()


def generator_loss_wasserstein(fake_scores: Tensor) -> Tensor:
    """Generator loss -E[f(G(z))]: move the fakes to where the critic scores real data high."""
    return -fake_scores.mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float) -> None:
    """WGAN's crude Lipschitz constraint: clamp every parameter of ``module`` to [-clip, clip], in place."""
    if clip <= 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    for p in module.parameters():
        p.clamp_(-clip, clip)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, weight: float = 10.0,
                     generator: torch.Generator | None = None) -> Tensor:
    """WGAN-GP penalty λ·E[(‖∇f(x̂)‖₂ − 1)²] at random interpolates x̂ = εx + (1−ε)G(z), ε ~ U[0, 1].

    Args:
        critic: images (B, ...) -> scores (B,); close over the labels for a conditional critic.
        real: real images (B, C, H, W).
        fake: generated images, same shape (detached here: the penalty trains the critic only).
        weight: λ (paper: 10).
        generator: optional RNG for ε (tests).

    Returns:
        A scalar, differentiable w.r.t. the critic's parameters (``create_graph=True``).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} images differ in shape")
    eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), device=real.device, dtype=real.dtype,
                     generator=generator)  # (B, 1, 1, 1): one mixing weight per pair
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = critic(x_hat)  # (B,)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)  # per-sample grads: scores are independent
    norms = grad.flatten(1).norm(2, dim=1)  # (B,)
    return weight * ((norms - 1) ** 2).mean()
