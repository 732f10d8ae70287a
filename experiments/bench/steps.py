"""The timed step loops ``paperlab bench`` compares: a Lightning step, a plain PyTorch step, a
short real ``fit`` read through ``PerfMonitor``. Shared by the overhead figure and the levers."""

from __future__ import annotations

import copy
import time
from typing import Any

import lightning as L
import torch

from experiments.callbacks import PerfMonitor


class _StepClock(L.Callback):
    """Wall time between consecutive ``on_train_batch_end`` calls: one whole Lightning step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


class Repeat:
    """An iterable that yields the same batch ``n`` times (a list would read as many loaders)."""

    def __init__(self, batch: Any, n: int) -> None:
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return (self.batch for _ in range(self.n))


def quiet_trainer(**kw: Any) -> L.Trainer:
    return L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                     accelerator="auto", devices=1, **kw)


def lightning_steps(module: L.LightningModule, batch: Any, steps: int, precision: str) -> list[float]:
    """Seconds per Lightning training step on a loader that repeats ``batch``."""
    clock = _StepClock()
    trainer = quiet_trainer(max_steps=steps + 1, max_epochs=1, callbacks=[clock], precision=precision)
    trainer.fit(module, train_dataloaders=Repeat(batch, steps + 1))
    return clock.times


def plain_steps(module: L.LightningModule, batch: Any, steps: int, optimizer, scheduler,
                autocast: torch.dtype | None = None) -> list[float]:
    """Seconds per step of the loop a PyTorch user would write around ``training_step``."""
    module.train()
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast(module.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            out = module.training_step(batch, i)
        loss = out["loss"] if isinstance(out, dict) else out
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss.item()  # Lightning reads the loss back too (progress/closure); keep the sync equal
        if i:
            times.append(time.perf_counter() - t)
    return times


def fit_summary(module: L.LightningModule, dm: L.LightningDataModule, steps: int, precision: str) -> dict[str, float]:
    """``PerfMonitor``'s perf/* figures from a short real fit of a copy of ``module``."""
    monitor = PerfMonitor(skip=3)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=steps, callbacks=[monitor], precision=precision)
    trainer.fit(copy.deepcopy(module), datamodule=dm)
    return monitor.summary
