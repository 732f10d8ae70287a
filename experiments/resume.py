"""Stopping and resuming a run so that the resumed run ends where the uninterrupted one ends.

* ``StepSeeds``: before every training step the global RNGs (torch, numpy, ``random``) are seeded
  from (run seed, epoch, batch, rank). Every draw the model makes (dropout, noise, a GAN's z,
  MoCo's shuffle) is then a function of where the run is, not of what ran before in this process,
  so a resumed process draws what the uninterrupted one drew. The data's draws are the loader's
  (``datamodules.resumable``); optimiser, scheduler, loop and loader positions are in Lightning's
  checkpoint.
* ``Interruption``: SIGTERM (what ``kill``, cloud pre-emption and SLURM's time limit send) and
  SIGINT (Ctrl-C) stop the run after the step in progress; it saves ``checkpoints/interrupted.ckpt``
  (removed when the resumed run finishes),
  marks results.json ``interrupted`` and the CLI prints the command that resumes the run and exits
  128 + signal number (143, 130). A second Ctrl-C stops at once.
* SLURM pre-emption (``sbatch --signal=SIGUSR1@90 --requeue``, ``paperlab slurm``): SIGUSR1 stops the run
  the same way (``interrupted.ckpt`` at a step boundary), then rank 0 runs ``scontrol requeue <job>``;
  the requeued job has the same job id, hence the same run folder (``experiments.launch``), and
  ``auto_resume_checkpoint`` picks the stop's checkpoint up without a ``--ckpt_path``. Lightning's own
  auto-requeue is switched off (``SLURMEnvironment(auto_requeue=False)`` in the CLI): it saves from
  inside the signal handler, in the middle of a step, which a resume cannot continue exactly.
* ``resume_argv``: ``paperlab fit --resume <run folder>`` -> the run's own config and newest checkpoint.
* ``config_changes``: what a resume may not change (anything but the trainer's length and devices).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torchmetrics import Metric

from contracts.errors import ConfigError
from datamodules.resumable import ResumableLoader, mix, run_seed, seed_all

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}
INTERRUPTED = "interrupted.ckpt"

# Keys a resumed fit may set differently from the run's saved config.yaml: how long to train and on
# what hardware, plus what the CLI fills in itself.
RESUMABLE_KEYS = (
    "trainer.max_epochs", "trainer.min_epochs", "trainer.max_steps", "trainer.min_steps", "trainer.max_time",
    "trainer.devices", "trainer.num_nodes", "trainer.accelerator", "trainer.strategy",
    "trainer.default_root_dir", "trainer.enable_progress_bar", "ckpt_path", "config", "experiment", "run_id",
    "runs_dir", "weights_only", "save_every_n_steps",
)


class StepSeeds(L.Callback):
    """Seeds the global RNGs from (seed, epoch, batch index, rank) before each training step."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        seed = run_seed() if self.seed is None else self.seed
        seed_all(mix(seed, trainer.current_epoch, batch_idx, trainer.global_rank), devices=True)


class LoaderPosition(L.Callback):
    """Puts the training loader back where the checkpoint left it (epoch, batches handed out), and,
    for a stop inside an epoch, the running epoch metrics (``train/acc1`` of that epoch counts the
    batches before the stop too).

    Lightning stores a stateful loader's ``state_dict`` in the checkpoint, but restores it only if the
    loader is built after the loops are restored; a module whose ``configure_optimizers`` reads
    ``trainer.estimated_stepping_batches`` (every paperlab schedule) builds it before, so the position
    is kept here too and applied at the start of training, before the first batch is drawn.
    """

    KEY = "paperlab_train_loader"
    METRICS = "paperlab_epoch_metrics"
    RANK_METRICS = "paperlab_epoch_metrics_per_rank"  # several processes: each rank's own, in rank order

    def __init__(self) -> None:
        self._pending: dict[str, Any] = {}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        loader = trainer.train_dataloader
        if not isinstance(loader, ResumableLoader):
            return
        checkpoint[self.KEY] = position = loader.state_dict()
        if 0 < position["batches"] < len(loader):  # inside an epoch: its metrics are half-way
            states = {name: {k: _detached(v) for k, v in m.metric_state.items()}
                      for name, m in pl_module.named_modules() if isinstance(m, Metric)}
            if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
                # Each rank's metrics count its own shard's batches; rank 0 writes the file, so it
                # carries them all (every rank builds the checkpoint: Trainer.save_checkpoint).
                ranks: list[Any] = [None] * trainer.world_size
                dist.all_gather_object(ranks, states)
                checkpoint[self.RANK_METRICS] = ranks
            else:
                checkpoint[self.METRICS] = states

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        self._pending = {k: checkpoint[k] for k in (self.KEY, self.METRICS) if k in checkpoint}
        ranks = checkpoint.get(self.RANK_METRICS)
        if ranks is not None and len(ranks) == trainer.world_size:
            self._pending[self.METRICS] = ranks[trainer.global_rank]
        elif ranks is not None and trainer.is_global_zero:  # another world size: other shards
            print(f"paperlab: resuming on {trainer.world_size} processes a stop made on {len(ranks)}: the "
                  "interrupted epoch's running training metrics start from zero", file=sys.stderr, flush=True)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        loader = trainer.train_dataloader
        if self.KEY in self._pending and isinstance(loader, ResumableLoader):
            loader.load_state_dict(self._pending[self.KEY])
        metrics = dict(pl_module.named_modules())
        for name, state in self._pending.get(self.METRICS, {}).items():
            if isinstance(metrics.get(name), Metric):
                for k, v in state.items():
                    setattr(metrics[name], k, _to(v, pl_module.device))
        self._pending = {}


def _detached(v: Any) -> Any:
    return v.detach().cpu().clone() if isinstance(v, torch.Tensor) else [_detached(x) for x in v]


def _to(v: Any, device: torch.device) -> Any:
    return v.to(device) if isinstance(v, torch.Tensor) else [_to(x, device) for x in v]


class Interruption(L.Callback):
    """Turns SIGTERM/SIGINT into a clean stop with a checkpoint (see the module docstring).

    ``install()`` puts the handlers in place before the trainer starts. They only note the signal.
    While fitting, every rank's flag is all-reduced after each training step (``on_train_batch_end``,
    which every rank reaches in step), and only then is Lightning's ``received_sigterm`` set, on every
    rank at once: the loops raise ``SIGTERMException`` at the end of that same step everywhere, and
    rank 0 writes the checkpoint. Lightning 2.6's own SIGTERM handler is replaced (``setup``): it calls
    ``dist.broadcast`` from inside the signal handler, i.e. at whatever point of the step the signal
    lands, which pairs with a different collective on the other ranks (a hang, or a rank that stops
    alone). A single process, and any run outside fitting (validate, test, predict: the evaluation
    shards may differ by a batch, so no per-batch collective there), sets ``received_sigterm`` in the
    handler as Lightning does: the loop stops after the batch in progress.
    """

    def __init__(self, run_dir: Path, requeue: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.requeue = requeue  # a SLURM batch job: SIGUSR1 stops, saves and requeues the job
        self.requeued: str | None = None  # the job id scontrol requeued
        self.signum: int | None = None
        self.checkpoint: Path | None = None
        self.epoch = self.step = 0
        self._trainer: L.Trainer | None = None
        self._passed_on = False
        self._group: Any = None  # the process group of the per-step stop flag

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigint)
        if self.requeue:
            signal.signal(signal.SIGUSR1, self._on_sigusr1)

    def _on_sigusr1(self, signum: int, frame: Any) -> None:
        """SLURM's warning before pre-emption or the time limit: stop after this step, as SIGTERM."""
        if self.signum is None:
            self.signum = signum
        handler = signal.getsignal(signal.SIGTERM)
        if callable(handler):
            handler(signal.SIGTERM, frame)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        trainer = self._trainer
        if trainer is not None and (trainer.world_size == 1 or trainer.state.fn != "fit"):
            trainer._signal_connector.received_sigterm = True  # nobody to agree with: stop after this step

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Put ``_pass_on`` in the place of Lightning's SIGTERM notifier (it registers its handlers
        after ``setup``, composed with ours), so that no collective runs inside a signal handler."""
        self._trainer = trainer
        trainer._signal_connector._sigterm_notifier_fn = self._pass_on  # type: ignore[method-assign]

    def _pass_on(self, signum: int, frame: Any) -> None:
        """What Lightning's notifier does but the broadcast: the first signal goes on to the ranks that
        Lightning's own launcher started (``kill <rank 0>`` stops all of them)."""
        launcher = self._trainer.strategy.launcher if self._trainer is not None else None
        if not self._passed_on and launcher is not None:
            self._passed_on = True
            launcher.kill(signum)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Several processes: the stop flag travels on the CPU (gloo), so agreeing on it each step never
        waits for the accelerator's queue (an NCCL flag read back with ``.item()`` would, every step)."""
        if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            self._group = dist.group.WORLD if dist.get_backend() == "gloo" else dist.new_group(backend="gloo")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        """The ranks agree to stop after this step if any of them got the signal."""
        stop = self.signum is not None
        if self._group is not None:
            flag = torch.tensor([int(stop)])  # CPU: a host-side all-reduce of one int, no device sync
            dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=self._group)
            stop = bool(flag.item())
        if stop:
            if self.signum is None:  # another rank's signal (a launcher that signals rank 0 only)
                self.signum = signal.SIGTERM
            trainer._signal_connector.received_sigterm = True  # the loop raises SIGTERMException now

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # the second Ctrl-C: stop now, no checkpoint
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.signum = signum
        handler = signal.getsignal(signal.SIGTERM)  # Lightning's (and ours): stop after this step
        if callable(handler):
            handler(signal.SIGTERM, frame)

    @property
    def interrupted(self) -> bool:
        return self.signum is not None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, SIGTERMException):
            return
        if self.signum is None:  # Lightning's own handler saw a SIGTERM before ours was installed
            self.signum = signal.SIGTERM
        self.epoch, self.step = trainer.current_epoch, trainer.global_step
        if trainer.state.fn != "fit":
            return
        # Not last.ckpt: that name is ModelCheckpoint's, which versions a file it did not write (last-v1).
        path = self.run_dir / "checkpoints" / INTERRUPTED
        trainer.save_checkpoint(path)  # every rank calls it; the strategy writes once
        self.checkpoint = path
        if self.requeue and self.signum == signal.SIGUSR1 and trainer.is_global_zero:
            self.requeued = requeue_slurm_job()

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The run is whole again: the stop's checkpoint would only be mistaken for the newest."""
        path = self.run_dir / "checkpoints" / INTERRUPTED
        if trainer.is_global_zero and path.is_file():
            path.unlink()
        elif trainer.is_global_zero and path.is_dir():  # a sharded (FSDP) checkpoint is a folder
            shutil.rmtree(path)

    def message(self) -> str:
        name = signal.Signals(self.signum or signal.SIGTERM).name
        where = f"epoch {self.epoch}, step {self.step}"
        if self.checkpoint is None:
            return f"paperlab: {name}: stopped at {where}, nothing to resume (not fitting)"
        if self.requeued:
            return (f"paperlab: {name}: stopped at {where}; requeued SLURM job {self.requeued}, which resumes "
                    f"{self.run_dir} (or: paperlab fit --resume {self.run_dir})")
        return f"paperlab: {name}: stopped at {where}; resume with: paperlab fit --resume {self.run_dir}"

    def exit_code(self) -> int:
        return EXIT_CODES.get(signal.Signals(self.signum or signal.SIGTERM), 128 + int(self.signum or 15))


def requeue_slurm_job() -> str | None:
    """``scontrol requeue <job>`` (``<array job>_<task>`` for an array task); the job id, or None."""
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    else:
        job = os.environ.get("SLURM_JOB_ID", "")
    if not job:
        return None
    try:
        done = subprocess.run(["scontrol", "requeue", job], check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        print(f"paperlab: scontrol requeue {job} failed: {e}", flush=True)
        return None
    if done.returncode != 0:
        print(f"paperlab: scontrol requeue {job} failed ({done.returncode}): {done.stderr.strip()}", flush=True)
        return None
    return job


def auto_resume_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a relaunched job of the same run continues from (SLURM requeue, torchrun restart):
    the stop's ``interrupted.ckpt``, else Lightning's newest ``hpc_ckpt_N.ckpt``, else, for a run that did
    not finish, its newest checkpoint; None for a new run or a finished one."""
    run_dir = Path(run_dir)
    stop = run_dir / "checkpoints" / INTERRUPTED
    if stop.exists():  # a file, or a sharded checkpoint's folder
        return stop
    hpc = sorted(run_dir.glob("hpc_ckpt_*.ckpt"), key=lambda p: int(p.stem.rsplit("_", 1)[-1]))
    if hpc:
        return hpc[-1]
    results = run_dir / "results.json"
    if results.is_file() and json.loads(results.read_text()).get("state") == "finished":
        return None
    return latest_checkpoint(run_dir)


def resume_argv(argv: list[str]) -> list[str]:
    """``fit --resume R [overrides]`` -> ``fit --config R/config.yaml [overrides] --ckpt_path <newest checkpoint>``."""
    if "--resume" not in argv and not any(a.startswith("--resume=") for a in argv):
        return argv
    rest, run = [], None
    it = iter(argv)
    for a in it:
        if a == "--resume":
            run = next(it, None)
        elif a.startswith("--resume="):
            run = a.split("=", 1)[1]
        else:
            rest.append(a)
    if not rest or rest[0] != "fit":
        raise ConfigError("--resume continues a training run: paperlab fit --resume <run folder>")
    if not run:
        raise ConfigError("--resume needs a run folder: paperlab fit --resume runs/<experiment>/<run id>")
    folder = Path(run)
    config, ckpt = folder / "config.yaml", latest_checkpoint(folder)
    if not config.is_file():
        raise ConfigError(f"--resume {run}: no config.yaml there (a run folder holds config.yaml and checkpoints/)")
    if ckpt is None:
        raise ConfigError(f"--resume {run}: no checkpoints/*.ckpt (the run stopped before its first checkpoint)")
    if any(a == "--config" or a.startswith("--config=") for a in rest):
        raise ConfigError(f"--resume {run} takes the run's own config.yaml; pass only trainer length/devices overrides")
    return ["fit", "--config", str(config), *rest[1:], "--ckpt_path", str(ckpt)]


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest ``checkpoints/*.ckpt`` of a run folder (the stop's, an every-N-steps one or last.ckpt)."""
    found = sorted(Path(run_dir).glob("checkpoints/*.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def resume_from(run_dir: Path) -> list[str]:
    """``--ckpt_path <run>/checkpoints/interrupted.ckpt`` when the run was stopped by a signal (sweeps and
    reproduce relaunch such a trial this way, so it ends with the figures of an uninterrupted one).

    Only the stop's own checkpoint: a trial that lost its results.json after finishing has a last.ckpt
    of a finished fit, which would resume into no training and no validation; it runs again instead.
    """
    stop = Path(run_dir) / "checkpoints" / INTERRUPTED
    return ["--ckpt_path", str(stop.resolve())] if stop.exists() else []


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"a.b.c": value}`` (lists kept as values; an empty dict as ``{}``)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out or {prefix[:-1]: {}}
    return {prefix[:-1]: tree}


def config_changes(saved: dict[str, Any], current: dict[str, Any],
                   allowed: tuple[str, ...] = RESUMABLE_KEYS) -> list[str]:
    """``key: saved -> current`` for every setting that differs, outside ``allowed`` (and their sub-keys)."""
    a, b = flatten(saved), flatten(current)
    changes = []
    for key in sorted(set(a) | set(b)):
        if any(key == k or key.startswith(k + ".") for k in allowed):
            continue
        if a.get(key) != b.get(key):
            changes.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return changes
