"""GAN objectives as pure functions: non-saturating BCE (Goodfellow 2014, DCGAN), Wasserstein
critic/generator losses (Arjovsky et al. 2017) with weight clipping, and the gradient penalty of
WGAN-GP (Gulrajani et al. 2017), and the "improved techniques" of Salimans et al. 2016 that are
losses: one-sided label smoothing, feature matching and historical averaging.

Scores are the raw outputs of the discriminator/critic, shape (B,): logits for the BCE losses,
unbounded critic values for the Wasserstein ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def d_loss_bce(real_logits: Tensor, fake_logits: Tensor, real_label: float = 1.0) -> Tensor:
    """Discriminator BCE: -log D(x) - log(1 - D(G(z))), averaged; D = sigmoid(logit).

    ``softplus(-l) = -log sigmoid(l)`` and ``softplus(l) = -log(1 - sigmoid(l))``, stable for any logit.
    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016, sec. 3.4; paper 0.9):
    the real target becomes α, the fake target stays 0, so D(x) is not pushed to saturate on real data.
    """
    if not 0.0 < real_label <= 1.0:
        raise ValueError(f"real_label must be in (0, 1], got {real_label}")
    real = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)
    return real.mean() + F.softplus(fake_logits).mean()


def d_loss_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator hinge loss (Lim & Ye 2017; SNGAN, Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].

    Scores beyond the margin (real > 1, fake < -1) give no gradient, so D stops pushing the samples it
    already separates and spends its capacity on the ones it does not.
    """
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_loss_hinge(fake_logits: Tensor) -> Tensor:
    """Generator loss paired with the hinge discriminator: -E[D(G(z))] (SNGAN)."""
    return -fake_logits.mean()


def feature_matching_loss(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Salimans et al. 2016, sec. 3.1: ||E f(x) - E f(G(z))||², f = an intermediate critic layer (B, F).

    The generator matches the statistics of real data instead of maximising the critic's output;
    the real features are a fixed target (detached).
    """
    return (real_features.detach().mean(0) - fake_features.mean(0)).pow(2).sum()


class HistoricalAverage:
    """Salimans et al. 2016, sec. 3.3: penalty weight·||θ - (1/t) Σ_i θ[i]||² over a module's parameters.

    ``penalty()`` is differentiable w.r.t. the current θ; ``update()`` (after each step) adds θ to the
    running mean. Plain torch, not a Module: the averages are training state, not model weights.
    """

    def __init__(self, module: nn.Module, weight: float) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.weight, self.count = weight, 0
        self.means: list[Tensor] = []  # built at the first update, on the parameters' device

    def penalty(self) -> Tensor:
        if self.count == 0:
            return self.params[0].new_zeros(())
        return self.weight * sum((p - m).pow(2).sum() for p, m in zip(self.params, self.means, strict=True))

    @torch.no_grad()
    def update(self) -> None:
        if not self.means:
            self.means = [p.detach().clone() for p in self.params]
        self.count += 1
        for p, m in zip(self.params, self.means, strict=True):
            m.add_((p.detach() - m) / self.count)  # running mean over the t parameter values seen


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
