"""Effective batch and learning rate: what a run trained with, against the paper's recipe.

The effective batch is ``per-device batch x world size x gradient accumulation``. A paper config
declares the batch its learning rate belongs to (``reference_batch: 256``); ``lr_scaling`` says
what to do when this run's effective batch differs:

* ``none`` (default): the configured ``lr`` as it is;
* ``linear``: ``lr x effective / reference`` (Goyal et al. 2017, SGD);
* ``sqrt``: ``lr x sqrt(effective / reference)`` (the Adam-family rule of thumb).

A run whose effective batch differs from the declared reference warns once. results.json ``meta``
and the W&B config record ``world_size``, ``per_device_batch``, ``accumulate_grad_batches``,
``effective_batch``, ``reference_batch``, ``lr_scaling``, ``lr`` (configured) and ``lr_used`` (the
peak learning rate the optimiser got). The factor reaches the optimiser through the module's
``lr_scale`` attribute, which ``lit_modules.optim.Optimised`` and the GANs multiply in; the
configured ``lr`` in the hyper-parameters is never changed, so a resume does not scale twice.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
from lightning.pytorch.utilities import rank_zero_warn

LrScaling = Literal["none", "linear", "sqrt"]


def lr_factor(effective: int, reference: int | None, rule: LrScaling) -> float:
    if rule == "none" or not reference or not effective:
        return 1.0
    ratio = effective / reference
    return ratio if rule == "linear" else math.sqrt(ratio)


def per_device_batch(trainer: L.Trainer) -> int | None:
    hp = getattr(trainer.datamodule, "hparams", None)
    size = hp.get("batch_size") if hp is not None and hasattr(hp, "get") else None
    return int(size) if size else None


class BatchScaling(L.Callback):
    """Computes the effective batch at setup, sets ``pl_module.lr_scale`` before the optimisers are
    built, and keeps the record (``info``) that RunRecorder writes."""

    def __init__(self, lr_scaling: LrScaling = "none", reference_batch: int | None = None) -> None:
        self.lr_scaling, self.reference_batch = lr_scaling, reference_batch
        self.info: dict[str, Any] = {}

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        per_device = per_device_batch(trainer)
        accumulate = int(trainer.accumulate_grad_batches)
        effective = (per_device or 0) * trainer.world_size * accumulate
        factor = lr_factor(effective, self.reference_batch, self.lr_scaling)
        lr = getattr(pl_module, "hparams", {}).get("lr")
        pl_module.lr_scale = factor
        self.info = {"world_size": trainer.world_size, "per_device_batch": per_device,
                     "accumulate_grad_batches": accumulate, "effective_batch": effective,
                     "reference_batch": self.reference_batch, "lr_scaling": self.lr_scaling,
                     "lr": lr, "lr_used": lr * factor if isinstance(lr, (int, float)) else None}
        if stage == "fit" and self.reference_batch and effective and effective != self.reference_batch:
            rank_zero_warn(f"effective batch {effective} ({per_device} per device x {trainer.world_size} processes x "
                           f"{accumulate} accumulated) differs from the paper recipe's {self.reference_batch}; "
                           f"lr_scaling={self.lr_scaling}: peak lr {self.info['lr_used']:.4g} (configured {lr})"
                           if isinstance(lr, (int, float)) else
                           f"effective batch {effective} differs from the paper recipe's {self.reference_batch}")
