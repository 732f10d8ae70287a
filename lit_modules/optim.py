"""Optimiser and per-step schedule from typed hyper-parameters (no Lightning import).

New families call ``optimizer_and_schedule``; the classification and detection bases predate it
and keep their own (same groups, same schedules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn


def optimizer_and_schedule(
    params: Iterable[nn.Parameter],
    *,
    optimizer: Literal["sgd", "adamw", "adam"],
    lr: float,
    weight_decay: float,
    momentum: float = 0.9,
    schedule: Literal["cosine", "constant"] = "cosine",
    warmup_steps: float = 0.0,
    total_steps: int = 1,
) -> dict[str, Any]:
    """Lightning's ``configure_optimizers`` dict: no weight decay on biases and norms, linear
    warm-up over ``warmup_steps``, then cosine to 0 at ``total_steps`` (or constant)."""
    params = [p for p in params if p.requires_grad]
    groups = [{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=lr, momentum=momentum)
    elif optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr)
    else:
        opt = torch.optim.AdamW(groups, lr=lr)
    total = max(1, total_steps)

    def factor(step: int) -> float:
        w = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
        if schedule == "cosine":
            return w * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total)))
        return w

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
