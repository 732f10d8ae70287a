"""Callbacks every paperlab run carries: speed telemetry and the run record (results.json)."""

from __future__ import annotations

import hashlib
import json
import resource
import signal
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.utilities.throughput import measure_flops
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from lightning_utilities.core.apply_func import apply_to_collection

from contracts.hooks import hook
from experiments import peak, provenance
from experiments.fsdp import sharded
from experiments.method import method_meta
from experiments.resume import Interruption
from experiments.scaling import BatchScaling

RESULTS_VERSION = 1


def _output_sum(output: Any) -> torch.Tensor:
    """A scalar to back-propagate from any forward output: a tensor, or the lists of dicts detectors return."""
    tensors: list[torch.Tensor] = []
    apply_to_collection(output, torch.Tensor, tensors.append)  # lightning's public walk, not torch's _pytree
    leaves = [t for t in tensors if t.is_floating_point() and t.requires_grad]
    if not leaves:
        raise ValueError("the forward output carries no gradient")
    return sum(t.float().sum() for t in leaves)


def batch_size_of(batch: Any) -> int:
    """Samples in a batch of any family's contract (tensor, list of images, tuple)."""
    first = batch[0] if isinstance(batch, (tuple, list)) and not isinstance(batch[0], (int, float)) else batch
    if isinstance(first, torch.Tensor):
        return int(first.shape[0])
    return len(first)


def flops_sample(pl_module: L.LightningModule, batch: Any) -> Any:
    """One sample of ``batch`` as ``forward`` takes it: the module's ``flops_input`` hook, else
    ``batch[0][:1]``."""
    flops_input = hook(pl_module, "flops_input")
    return flops_input(batch) if flops_input is not None else batch[0][:1]


class PerfMonitor(L.Callback):
    """Logs ``perf/*`` once per training epoch, with no per-step host synchronisation.

    Step time and the time spent waiting for the loader are taken between the batch hooks
    (the wait is the gap from the end of one step to the start of the next, i.e. the loader's
    ``next()``); FLOPs per sample come from Lightning's ``measure_flops`` on one sample
    (forward + backward, so it matches a training step); MFU is achieved FLOP/s over
    ``experiments.peak.peak_flops``. At the end of fit the median eval-mode latency of one
    sample (batch 1) is measured. The first ``skip`` steps (warm-up, kernel selection,
    worker start-up) are left out of the figures.
    """

    def __init__(self, skip: int = 3, latency_runs: int = 20) -> None:
        self.skip, self.latency_runs = skip, latency_runs
        self._sample: Any = None
        self.summary: dict[str, float] = {}
        self._flops: float | None = None
        self._peak: float | None = None
        self._reset()

    def _reset(self) -> None:
        self._steps = self._samples = 0
        self._wait = self._busy = 0.0
        self._last_end: float | None = None
        self._t0 = 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._peak = peak.peak_flops(pl_module.device, str(trainer.precision))
        self._seen = 0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._reset()

    def _measure_flops(self, pl_module: L.LightningModule, batch: Any) -> float | None:
        sample = flops_sample(pl_module, batch)
        was_training = pl_module.training
        pl_module.eval()  # keep BN running statistics untouched by the measurement
        try:
            try:
                flops = measure_flops(pl_module, lambda: pl_module(sample), _output_sum)
            except RuntimeError:  # an in-place post-processing op (detector decoding) blocks backward:
                flops = 3 * measure_flops(pl_module, lambda: pl_module(sample))  # backward ~ 2x forward
        except Exception as e:  # noqa: BLE001 (a family with an exotic forward goes without FLOPs)
            rank_zero_warn(f"perf: FLOPs not measured ({type(e).__name__}: {e})")
            return None
        finally:
            pl_module.zero_grad(set_to_none=True)
            pl_module.train(was_training)
        return float(flops) / batch_size_of((sample,))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._flops is None:  # first step of this process: a fresh run or a resumed one
            if sharded(trainer):  # FSDP: the module cannot run outside the strategy's forward
                self._flops = 0.0
            else:
                self._flops = self._measure_flops(pl_module, batch) or 0.0
                self._sample = flops_sample(pl_module, batch)
        self._t0 = time.perf_counter()
        if self._last_end is not None and self._seen >= self.skip:
            self._wait += self._t0 - self._last_end

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._seen >= self.skip and self._last_end is not None:
            self._busy += now - self._t0
            self._steps += 1
            self._samples += batch_size_of(batch)
        self._seen += 1
        self._last_end = now

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
        total = self._busy + self._wait
        if self._steps == 0 or total <= 0:
            return
        world = trainer.world_size
        s = {
            "perf/samples_per_sec": self._samples * world / total,
            "perf/step_time_ms": 1000 * total / self._steps,
            "perf/data_wait_share": self._wait / total,
            "perf/peak_mem_mb": peak_memory_mb(pl_module.device),
        }
        if self._flops:
            s["perf/flops_per_sample"] = self._flops
            if self._peak:
                # Every process does the same work on its own device: MFU is per device.
                s["perf/mfu"] = self._flops * (self._samples / total) / self._peak
        self.summary = s
        for k, v in s.items():
            pl_module.log(k, v, rank_zero_only=True)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """``perf/infer_latency_bs1_ms``: median eval-mode forward time of one sample."""
        if self._sample is None or not trainer.is_global_zero:
            return
        was_training = pl_module.training
        pl_module.eval()
        times = []
        try:
            with torch.no_grad():
                for _ in range(self.latency_runs + 3):
                    t0 = time.perf_counter()
                    pl_module(self._sample)
                    if pl_module.device.type == "cuda":
                        torch.cuda.synchronize()
                    times.append(time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 (a family with an exotic forward goes without it)
            rank_zero_warn(f"perf: batch-1 latency not measured ({type(e).__name__}: {e})")
            return
        finally:
            pl_module.train(was_training)
        latency = {"perf/infer_latency_bs1_ms": 1000 * statistics.median(times[3:])}  # warm-up dropped
        self.summary.update(latency)
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in latency.items()})  # -> results.json
        for logger in trainer.loggers:
            logger.log_metrics(latency, step=trainer.global_step)


def _batch_info(trainer: L.Trainer) -> dict[str, Any]:
    scaling = next((cb for cb in trainer.callbacks if isinstance(cb, BatchScaling)), None)
    return dict(scaling.info) if scaling is not None else {}


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# Training figures that are whole-epoch values when a validation runs, so they can join ``history``:
# a running epoch mean (lit_modules.resnet), unlike ``train/loss`` (the last step) or ``train/acc1``
# (logged after the validation, so one epoch behind).
HISTORY_TRAIN_KEYS = ("train/loss_mean",)


class RunRecorder(L.Callback):
    """Writes ``results.json`` in the run folder and sends the config + provenance to W&B.

    results.json: ``{"version", "experiment", "run_id", "metrics", "perf", "meta" (with
    ``skipped_files`` when the data skipped unreadable files),
    "provenance", "paper", "wandb": {"id", "dir"}, "checkpoints": {"best"|"last": {"path",
    "sha256"}}, "history": [{"epoch", "global_step", "time_s", "val/...": value} per validation],
    "state": "finished"|"interrupted", "interrupted": {"signal", "epoch", "global_step", "checkpoint",
    "resume"} (while it is)}``, where
    ``time_s`` is fit wall time up to that validation (across resumes), so time-to-accuracy can be
    read from any run; later stages of the same run (a test
    after fit, a resumed fit) update it in place.
    """

    def __init__(self, run_dir: Path, experiment: str, run_id: str, config: dict[str, Any],
                 paper: list[dict[str, Any]] | None = None) -> None:
        self.run_dir, self.experiment, self.run_id = Path(run_dir), experiment, run_id
        self.config, self.paper = config, paper or []
        self.provenance = provenance.collect()
        self._fit_start: float | None = None
        self._time_before = 0.0
        self.checkpoints: dict[str, dict[str, str]] = {}
        self.history: list[dict[str, float]] = []  # one entry per validation epoch of this process
        self.path = self.run_dir / "results.json"

    @rank_zero_only
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.experiment.config.update(
                    {"resolved_config": self.config, "provenance": self.provenance, "paper": self.paper,
                     "batch": _batch_info(trainer)},
                    allow_val_change=True,
                )

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.perf_counter()
        old = self.load(self.path) if self.path.exists() else {}
        self._time_before = float(old.get("meta", {}).get("train_time_s", 0.0))  # a resumed run's earlier fits

    def on_fit_end(self, trainer, pl_module) -> None:
        self.checkpoints = checkpoint_hashes(trainer)
        self._write(trainer, pl_module, "fit", state="finished")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """A stopped fit (SIGTERM/SIGINT): results.json says ``interrupted`` until a resume finishes it."""
        stop = next((cb for cb in trainer.callbacks if isinstance(cb, Interruption)), None)
        if trainer.state.fn != "fit" or stop is None or stop.checkpoint is None or stop.signum is None:
            return
        self._write(trainer, pl_module, None, state="interrupted", interrupted={
            "signal": signal.Signals(stop.signum).name, "epoch": trainer.current_epoch,
            "global_step": trainer.global_step, "checkpoint": str(stop.checkpoint),
            "resume": f"paperlab fit --resume {self.run_dir}"})

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            point = {k: float(v) for k, v in trainer.callback_metrics.items()
                     if (k.startswith("val/") or k in HISTORY_TRAIN_KEYS) and v.numel() == 1}
            elapsed = self._time_before + time.perf_counter() - (self._fit_start or time.perf_counter())
            self.history.append({"epoch": trainer.current_epoch, "global_step": trainer.global_step,
                                 "time_s": round(elapsed, 2), **point})
        if trainer.state.fn == "validate":
            self._write(trainer, pl_module, "validate")

    def on_test_end(self, trainer, pl_module) -> None:
        self._write(trainer, pl_module, "test")

    @rank_zero_only
    def _write(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str | None,
               state: str | None = None, interrupted: dict[str, Any] | None = None) -> None:
        """Update results.json with ``stage``'s figures; ``state`` replaces the run's state (None keeps it)."""
        old = self.load(self.path) if self.path.exists() else {}
        metrics = dict(old.get("metrics", {}))
        perf = dict(old.get("perf", {}))
        for k, v in trainer.callback_metrics.items():
            if k.startswith("perf/"):
                perf[k] = float(v)
            elif k.startswith(("val/", "test/", "train/")) and v.numel() == 1:
                metrics[k] = float(v)
        meta = dict(old.get("meta", {}))
        dm = trainer.datamodule
        meta.update({
            "model": type(pl_module).__name__,
            **method_meta(type(pl_module), dict(pl_module.hparams)),
            "dataset": hook(dm, "dataset_name", type(dm).__name__ if dm else None),
            "params": sum(p.numel() for p in pl_module.parameters()),
            "precision": str(trainer.precision),
            "world_size": trainer.world_size,
        })
        meta.update(_batch_info(trainer))  # per-device and effective batch, the lr used (experiments.scaling)
        skipped = hook(dm, "skipped_files")
        if skipped:  # bad_images=skip: the files this run did not see, so a table can say so
            meta.update({"skipped_files": list(skipped), "skipped_count": len(skipped)})
        if stage == "fit" or state == "interrupted":
            loader_bs = getattr(getattr(dm, "hparams", {}), "get", lambda *_: None)("batch_size")
            meta.update({
                "epochs": trainer.current_epoch,
                "global_step": trainer.global_step,
                "train_time_s": meta.get("train_time_s", 0.0) + time.perf_counter() - (self._fit_start or 0),
            })
            meta.setdefault("effective_batch", (loader_bs or 0) * trainer.world_size * trainer.accumulate_grad_batches)
        wandb = old.get("wandb", {})
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                run = logger.experiment
                wandb = {"id": run.id, "dir": str(Path(run.dir).parent), "project": run.project}
        record = {
            "version": RESULTS_VERSION, "experiment": self.experiment, "run_id": self.run_id,
            "metrics": metrics, "perf": perf, "meta": meta,
            "provenance": {**self.provenance, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")},
            "paper": self.paper, "wandb": wandb,
            "checkpoints": self.checkpoints or old.get("checkpoints", {}),
            "history": _merge_history(old.get("history", []), self.history),
            "stages": sorted(set(old.get("stages", [])) | ({stage} if stage else set())),
            "state": state or old.get("state", "finished"),
        }
        if record["state"] == "interrupted":
            record["interrupted"] = interrupted or old.get("interrupted")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        tmp.replace(self.path)  # never leave a half-written results.json

    @staticmethod
    def load(path: Path) -> dict[str, Any]:
        data = json.loads(Path(path).read_text())
        if data.get("version") != RESULTS_VERSION:
            raise ValueError(f"{path}: results version {data.get('version')} is not {RESULTS_VERSION}")
        return data


def _merge_history(old: list[dict], new: list[dict]) -> list[dict]:
    """A resumed run's curve: the earlier points up to where this process started, then its own."""
    first = new[0]["global_step"] if new else float("inf")
    return [h for h in old if h.get("global_step", 0) < first] + new


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def checkpoint_hashes(trainer: L.Trainer) -> dict[str, dict[str, str]]:
    """``{"best"|"last": {"path", "sha256"}}`` of the run's ModelCheckpoint files."""
    found: dict[str, dict[str, str]] = {}
    for cb in trainer.checkpoint_callbacks:
        if not isinstance(cb, ModelCheckpoint):
            continue
        for alias, path in (("best", cb.best_model_path), ("last", cb.last_model_path)):
            if path and Path(path).is_file() and alias not in found:
                found[alias] = {"path": str(Path(path).resolve()), "sha256": sha256_of(path)}
    return found
