"""One run for every process of a multi-process, multi-node launch.

Every process of a launch runs the whole CLI, and each must name the same run folder and W&B run,
*before* any process group exists (the folder, the logger and the checkpoint paths are built
first). The run id is therefore, in this order:

1. ``--run_id`` (the user's);
2. ``PAPERLAB_RUN_ID``: set by a process that launches its own workers (Lightning's own launcher,
   ``trainer.devices > 1``: the children inherit the parent's environment);
3. the launcher's job id: ``slurm-<SLURM_JOB_ID>`` (``slurm-<array job>_<task>`` for an array task,
   ``-s<step>`` for a later ``srun`` step of the same job) when Lightning's SLURM environment is in
   use, or ``torchrun-<id>`` for ``torchrun --rdzv-id <id>`` (``TORCHELASTIC_RUN_ID``; torchrun's
   default is the string ``none``, which names nothing);
4. a random id.

A requeued SLURM job keeps its job id, so it lands in the same folder and resumes the same W&B run.
With torchrun and no ``--rdzv-id`` the processes draw different random ids: only rank 0 creates a
folder, a W&B run and results.json, and the others take rank 0's folder at setup, once the process
group exists (``RunDirectory``). Plain ``torch.distributed``; no Lightning import but the callback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import lightning as L

RUN_ID_ENV = "PAPERLAB_RUN_ID"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _clean(text: str) -> str:
    """A folder- and W&B-safe id (W&B refuses ``/ \\ # ? % :``), at most 64 characters."""
    return _UNSAFE.sub("-", text).strip("-.")[:64]


def slurm_batch_job(env: Mapping[str, str]) -> bool:
    """Lightning's own test (``SLURMEnvironment.detect``): tasks under SLURM that are not an
    interactive shell (``salloc``'s ``bash`` or ``interactive``)."""
    return "SLURM_NTASKS" in env and env.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def launcher_run_id(env: Mapping[str, str] | None = None) -> str | None:
    """The id every process of this launch can read from its environment, or None."""
    env = os.environ if env is None else env
    if env.get(RUN_ID_ENV):
        return _clean(env[RUN_ID_ENV])
    if slurm_batch_job(env) and env.get("SLURM_JOB_ID"):
        if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
            job = f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
        else:
            job = env["SLURM_JOB_ID"]
        step = env.get("SLURM_STEP_ID", "0")
        return _clean(f"slurm-{job}" + (f"-s{step}" if step not in ("0", "") and step.isdigit() else ""))
    elastic = env.get("TORCHELASTIC_RUN_ID")
    if elastic and elastic.lower() != "none":
        return _clean(f"torchrun-{elastic}")
    return None


class RunDirectory(L.Callback):
    """Makes every rank use rank 0's run folder once the process group exists (torchrun without
    ``--rdzv-id``: the ranks drew different ids); the other ranks never create it."""

    def __init__(self, run_dir: Path, users: list[object]) -> None:
        self.run_dir, self.users = Path(run_dir), users

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.world_size == 1:
            return
        agreed = Path(trainer.strategy.broadcast(str(self.run_dir), src=0))
        if agreed == self.run_dir:
            return
        self.run_dir = agreed
        for user in self.users:  # RunRecorder, Interruption: the stop's checkpoint path, the message
            user.run_dir = agreed
            if hasattr(user, "path"):
                user.path = agreed / "results.json"
            if hasattr(user, "run_id"):
                user.experiment, user.run_id = agreed.parent.name, agreed.name
