"""Images made by gradient ascent on the input: class models (Simonyan 2014, with Yosinski
2015's L2 / jitter / blur / clipping), fooling images from noise (Nguyen 2015), feature
inversion (Mahendran & Vedaldi 2015) and DeepDream. Pixels stay in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor, nn


def class_visualisation(model: nn.Module, classes: Tensor, size: int, steps: int = 200, lr: float = 0.05,
                        regularise: bool = True, seed: int = 0) -> Tensor:
    """Images ``(K, 3, size, size)`` maximising each class's logit, from grey plus faint noise.

    Regularised (Yosinski 2015): L2 decay toward grey, random jitter of up to size/16 px each
    step and a Gaussian blur every 10 steps; plain: the logit alone. Both clip to [0, 1].
    """
    g = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.01 * torch.randn(len(classes), 3, size, size, generator=g)).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    jit = max(1, size // 16)
    for step in range(steps):
        img = x
        if regularise:
            dy, dx = torch.randint(-jit, jit + 1, (2,), generator=g).tolist()
            img = torch.roll(x, (dy, dx), (2, 3))
        score = model(img).gather(1, classes[:, None]).sum()
        loss = -score + (1e-2 * ((x - 0.5) ** 2).sum() if regularise else 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            if regularise and step % 10 == 9 and step < steps - 1:
                x.copy_(TF.gaussian_blur(x, [3, 3], [0.5, 0.5]))
            x.clamp_(0, 1)
    return x.detach()


def fooling_images(model: nn.Module, classes: Tensor, size: int, target: float = 0.99, max_steps: int = 300,
                   lr: float = 0.05, seed: int = 0) -> tuple[Tensor, Tensor]:
    """From uniform noise, ascend each class's log-probability until it reaches ``target``.

    Adam's step shrinks along a cosine over ``max_steps`` (a fixed step of lr per pixel circles
    round the optimum near the [0, 1] walls); each image is kept as it was at its best step, so
    one that reached ``target`` is returned as it was then, not as momentum moved it on.

    Returns:
        images ``(K, 3, size, size)`` and the steps each took (``max_steps`` if it never got there).
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(len(classes), 3, size, size, generator=g).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max_steps)
    steps = torch.full((len(classes),), max_steps)
    best, best_logp = x.detach().clone(), torch.full((len(classes),), -float("inf"))
    for step in range(max_steps + 1):
        logp = model(x).log_softmax(-1).gather(1, classes[:, None])[:, 0]  # (K,)
        with torch.no_grad():
            better = (logp > best_logp) & (steps == max_steps)  # frozen once it reached the target
            best[better], best_logp[better] = x[better], logp[better]
            steps[(logp.exp() >= target) & (steps == max_steps)] = step
        if (steps < max_steps).all() or step == max_steps:
            break
        opt.zero_grad()
        (-logp.sum()).backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return best, steps


def _total_variation(x: Tensor) -> Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def invert(features: nn.Module, target: Tensor, size: int, steps: int = 200, lr: float = 0.05,
           tv: float = 0.05, seed: int = 0) -> Tensor:
    """Images whose ``features`` match ``target`` ``(K, ...)``: MSE plus total variation, from noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(len(target), 3, size, size, generator=g).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    scale = target.pow(2).mean().clamp(min=1e-12)
    for _ in range(steps):
        loss = F.mse_loss(features(x), target) / scale + tv * _total_variation(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def deepdream(activation: nn.Module, x: Tensor, steps: int = 50, lr: float = 0.01) -> Tensor:
    """Amplify whatever ``activation(x)`` already responds to: ascend its mean square by
    normalised gradient steps (Mordvintsev 2015), clipped to [0, 1]."""
    x = x.clone().requires_grad_(True)
    for _ in range(steps):
        (g,) = torch.autograd.grad(activation(x).pow(2).mean(), x)
        with torch.no_grad():
            x += lr * g / g.abs().mean().clamp(min=1e-12)
            x.clamp_(0, 1)
    return x.detach()
