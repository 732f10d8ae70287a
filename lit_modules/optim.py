"""The one place optimisers, parameter groups and learning-rate schedules are built.

Every family's module gets ``configure_optimizers`` from ``Optimised`` (or, for the GANs' two
optimisers, calls ``make_optimizer`` directly), so two demos that say "cosine with warm-up"
follow the same curve. The schedule is a per-step factor on the peak ``lr``:

- linear warm-up from ``1/warmup`` to 1 over the first ``warmup`` steps, then
- ``cosine``: half a cosine from 1 to 0 over the steps *after* the warm-up
  (``0.5 (1 + cos(pi (step - warmup) / (total - warmup)))``, the SimCLR/ViT recipe);
- ``step``: ÷10 at each milestone (every ``step_epochs`` epochs, or at the listed ``milestones``);
- ``constant``: 1;
- ``dann``: the annealing of Ganin & Lempitsky 2015, ``1 / (1 + 10 p)^0.75`` with ``p`` the
  progress from 0 to 1 over the steps after the warm-up;
- ``lecun``: LeNet-5's decreasing global rate (LeCun et al. 1998, Sec. V.A: 0.0005, 0.0002, 0.0001,
  0.00005, 0.00001 for passes 1-2, 3-5, 6-8, 9-12, 13-20), its 20 passes stretched to the run's
  length: factors 1, 0.4, 0.2, 0.1, 0.02 from progress 0, 0.1, 0.25, 0.4, 0.6.

Parameter groups may carry ``lr_mult`` (layer-wise learning rates, ``lit_modules.transfer``):
the group's peak rate is ``lr * lr_mult`` and the schedule scales every group alike.

No Lightning import: ``Optimised`` only reads ``self.hparams`` and ``self.trainer``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import torch
from torch import nn

from lit_modules.ops.lars import LARS

OptimizerName = Literal["sgd", "adamw", "adam", "rmsprop", "rmsprop_tf", "lars"]
ScheduleName = Literal["step", "cosine", "constant", "dann", "lecun"]
LECUN_1998 = ((0.0, 1.0), (0.1, 0.4), (0.25, 0.2), (0.4, 0.1), (0.6, 0.02))  # (progress from, factor): 2/3/3/4/8 of 20 passes


def param_groups(params: Iterable[nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    """Two groups: weight decay on weights, none on biases and norm parameters (1-D tensors),
    the practice since the ResNet/ViT recipes. Frozen parameters are left out."""
    params = [p for p in params if p.requires_grad]
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay, "lars": True},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0, "lars": False}]


def make_optimizer(groups: Iterable[Any], name: OptimizerName, lr: float, *, momentum: float = 0.9,
                   betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Optimizer:
    """``name`` over ``groups`` (parameters or group dicts). A group's ``lars`` flag (weights: yes,
    biases and norms: no) is read by LARS only; the other optimisers never see it."""
    groups = [_with_lr(g, lr) for g in groups]
    if name == "lars":
        return LARS(groups, lr=lr, momentum=momentum)
    groups = [{k: v for k, v in g.items() if k != "lars"} if isinstance(g, dict) else g for g in groups]
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum)
    if name == "rmsprop":  # Torch7's optim.rmsprop, as the hourglass and WGAN papers: alpha 0.99, eps 1e-8
        return torch.optim.RMSprop(groups, lr=lr, alpha=0.99, eps=1e-8)
    if name == "rmsprop_tf":  # TensorFlow's RMSprop as the Inception v3 / MobileNet papers trained: decay 0.9,
        # eps 1.0 added inside the square root (so a weight with small gradients steps like SGD with momentum)
        from timm.optim import RMSpropTF

        return RMSpropTF(groups, lr=lr, alpha=0.9, eps=1.0, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas)
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def _with_lr(group: Any, lr: float) -> Any:
    """A group dict's ``lr_mult`` becomes its own ``lr``; other groups pass unchanged."""
    if not isinstance(group, dict) or "lr_mult" not in group:
        return group
    group = dict(group)
    group["lr"] = lr * group.pop("lr_mult")
    return group


def lr_factor(step: int, *, schedule: ScheduleName, total: float, warmup: float = 0.0,
              milestones: Sequence[float] = ()) -> float:
    """The factor on the peak learning rate at optimiser step ``step`` (0-based).

    Args:
        step: optimiser steps taken so far.
        schedule: "cosine", "step", "constant", "dann" or "lecun" after the warm-up.
        total: steps in the whole run.
        warmup: linear warm-up steps (0: none).
        milestones: steps at which ``schedule="step"`` divides by 10.
    """
    if step < warmup:
        return min(1.0, (step + 1) / warmup)  # a fractional warm-up must not overshoot the peak
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1.0, total - warmup))))
    if schedule == "dann":
        return (1 + 10 * min(1.0, (step - warmup) / max(1.0, total - warmup))) ** -0.75
    if schedule == "step":
        return 0.1 ** sum(step >= m for m in milestones)
    if schedule == "lecun":
        progress = (step - warmup) / max(1.0, total - warmup)
        return [f for start, f in LECUN_1998 if progress >= start][-1]
    return 1.0


def schedule(optimizer: torch.optim.Optimizer, *, schedule: ScheduleName, total_steps: int, epochs: int,
             warmup_epochs: float = 0.0, step_epochs: int | None = None,
             milestones: Sequence[int] = ()) -> dict[str, Any]:
    """Lightning's ``configure_optimizers`` dict with a per-step ``LambdaLR`` of ``lr_factor``.

    Epoch counts (``warmup_epochs``, ``step_epochs``, ``milestones``) become steps through
    ``total_steps / epochs``, so fractions of an epoch are allowed.
    """
    total = max(1, total_steps)
    per_epoch = total / max(1, epochs)
    marks = [m * per_epoch for m in milestones]
    if step_epochs:
        marks = [k * step_epochs * per_epoch for k in range(1, math.ceil(max(1, epochs) / step_epochs) + 1)]
    sched = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(
        s, schedule=schedule, total=total, warmup=warmup_epochs * per_epoch, milestones=marks))
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class Optimised:
    """Mixin for a LightningModule whose ``hparams`` hold the optimisation arguments.

    Reads ``optimizer``, ``lr``, ``weight_decay`` and, where the family has them, ``momentum``,
    ``schedule`` (default cosine), ``warmup_epochs``, ``step_epochs`` and ``milestones``. A family
    with its own parameter groups (the SSL probe) overrides ``optimizer_groups``.
    """

    def optimizer_groups(self) -> list[dict[str, Any]]:
        return param_groups(self.parameters(), self.hparams.weight_decay)  # type: ignore[attr-defined]

    def configure_optimizers(self) -> dict[str, Any]:
        hp, trainer = self.hparams, self.trainer  # type: ignore[attr-defined]
        lr = hp.lr * getattr(self, "lr_scale", 1.0)  # experiments.scaling: lr_scaling for the effective batch
        opt = make_optimizer(self.optimizer_groups(), hp.optimizer, lr, momentum=hp.get("momentum", 0.9))
        return schedule(opt, schedule=hp.get("schedule", "cosine"), total_steps=trainer.estimated_stepping_batches,
                        epochs=trainer.max_epochs or 1, warmup_epochs=hp.get("warmup_epochs", 0.0),
                        step_epochs=hp.get("step_epochs") if hp.get("schedule") == "step" else None,
                        milestones=hp.get("milestones") or ())
