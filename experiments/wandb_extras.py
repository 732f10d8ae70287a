"""W&B niceties every tracked run gets: shared x-axes, sample predictions, checkpoint artifacts.

- ``define_metric``: ``train/*`` curves are drawn against ``trainer/global_step``, ``val/*``,
  ``test/*`` and ``perf/*`` against ``epoch``; ``samples_seen`` is logged with the training
  metrics so any curve can be switched to it (runs with different batch sizes line up).
- Sample predictions: a module that defines ``wandb_media(batch, outputs) -> dict`` (W&B
  objects keyed by name) gets it called on the first validation batch of every validation
  epoch; each family draws its own (classification: a table of images, true and predicted class).
- Checkpoints: at the end of fit the best and last checkpoints are logged as one ``model``
  artifact whose metadata carries each file's sha256 (also written to ``results.json``), so a
  number in a report can be traced to the exact weights.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from contracts.hooks import hook
from experiments.callbacks import RunRecorder, batch_size_of
from experiments.fsdp import sharded


def _wandb_run(trainer: L.Trainer) -> Any | None:
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            return logger.experiment
    return None


class WandbExtras(L.Callback):
    """Axes, media and checkpoint artifacts for runs logged to W&B (a no-op without W&B)."""

    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder  # it hashes the checkpoints for results.json; the artifact reuses them
        self._samples = 0
        self._media_epoch = -1

    @rank_zero_only
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = _wandb_run(trainer)
        if run is None:
            return
        for axis in ("epoch", "samples_seen"):
            run.define_metric(axis, hidden=False)
        run.define_metric("train/*", step_metric="trainer/global_step")
        for stage in ("val", "test", "perf"):
            run.define_metric(f"{stage}/*", step_metric="epoch")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # A Python int: counting costs no device sync; logged only on Lightning's logging steps.
        self._samples += batch_size_of(batch) * trainer.world_size
        if (trainer.global_step % trainer.log_every_n_steps) == 0:
            pl_module.log("samples_seen", float(self._samples), rank_zero_only=True)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if (batch_idx != 0 or trainer.sanity_checking or trainer.current_epoch == self._media_epoch
                or not trainer.is_global_zero or sharded(trainer)):
            return
        wandb_media = hook(pl_module, "wandb_media")
        if wandb_media is None:
            return
        run = _wandb_run(trainer)
        if run is None:
            return
        self._media_epoch = trainer.current_epoch
        media = wandb_media(batch, outputs)
        if media:
            run.log({**media, "trainer/global_step": trainer.global_step, "epoch": trainer.current_epoch})

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = _wandb_run(trainer)
        checkpoints = self.recorder.checkpoints
        if run is None or not checkpoints:
            return
        import wandb  # imported here: only runs that log to W&B pay for it

        art = wandb.Artifact(f"model-{run.id}", type="model",
                             metadata={alias: c["sha256"] for alias, c in checkpoints.items()}
                             | {"global_step": trainer.global_step})
        for alias, c in checkpoints.items():
            art.add_file(c["path"], name=f"{alias}.ckpt")
        run.log_artifact(art, aliases=["latest", *checkpoints])

