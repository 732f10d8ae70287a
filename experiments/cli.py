"""``paperlab``: LightningCLI in subclass mode plus the run folder, W&B and speed telemetry.

    paperlab fit --config configs/alexnet/demo.yaml [--config more.yaml] [--model.init_args.lr 0.01]
    paperlab test --config configs/alexnet/demo.yaml --ckpt_path runs/<exp>/<id>/checkpoints/last.ckpt
    paperlab bench --config configs/vgg/demo.yaml

Every run gets ``runs/<experiment>/<run-id>/`` (``config.yaml``, ``checkpoints/``,
``results.json``, ``wandb/``) and a W&B run with the same id, offline unless
``WANDB_MODE=online``. A ``--ckpt_path`` inside a run folder continues that run, and
``paperlab fit --resume <run folder>`` is the short way back after a stop (SIGTERM/SIGINT save
``checkpoints/interrupted.ckpt``, print this command and exit 143/130: ``experiments.resume``).
"""

from __future__ import annotations

import importlib
import os
import secrets
import string
import sys
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from contracts.errors import ConfigError
from contracts.hooks import hook
from experiments.callbacks import PerfMonitor, RunRecorder
from experiments.launch import RUN_ID_ENV, RunDirectory, launcher_run_id, slurm_batch_job
from experiments.paper import PaperRef
from experiments.resume import (
    Interruption,
    LoaderPosition,
    StepSeeds,
    auto_resume_checkpoint,
    config_changes,
    resume_argv,
)
from experiments.scaling import BatchScaling, LrScaling
from experiments.user_errors import user_error
from experiments.wandb_extras import WandbExtras

# paperlab TOOL ... -> <package>.main(argv); imported only when named, so `fit` pays for none of them
TOOLS = {"bench": "experiments.bench", "baseline": "experiments.baselines", "report": "experiments.report",
         "sweep": "experiments.sweep", "reproduce": "experiments.reproduce", "check-data": "experiments.check_data",
         "predict": "experiments.predict", "explain": "experiments.explain", "slurm": "experiments.slurm",
         "gpu-check": "experiments.gpu_check", "proposal-recall": "experiments.proposal_recall"}


def new_run_id() -> str:
    """An 8-character id in W&B's alphabet, used for both the folder and the W&B run."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def experiment_name(config_paths: list[str]) -> str:
    """``configs/alexnet/demo.yaml`` -> ``alexnet-demo`` (the last non-trainer config names it)."""
    paths = [Path(p) for p in config_paths if Path(p).parent.name != "trainer"] or [Path(p) for p in config_paths]
    if not paths:
        return "default"
    p = paths[-1]
    return f"{p.parent.name}-{p.stem}" if p.parent.name else p.stem


class PaperlabCLI(LightningCLI):
    """LightningCLI with ``--experiment``, ``--run_id``, ``--runs_dir`` and ``--paper``."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        self.run_dir: Path | None = None
        super().__init__(
            L.LightningModule,
            L.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            seed_everything_default=0,
            parser_kwargs={"default_env": False},
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--experiment", type=str | None, default=None,
                            help="Run group name (default: <method>-<config stem>).")
        parser.add_argument("--run_id", type=str | None, default=None,
                            help="Run id (default: the launcher's job id under SLURM or torchrun --rdzv-id, "
                                 "else random; experiments.launch).")
        parser.add_argument("--runs_dir", type=str, default="runs", help="Root of the run folders.")
        parser.add_argument("--wandb_project", type=str, default="paperlab", help="W&B project.")
        parser.add_argument("--paper", type=list[PaperRef], default=[],
                            help="The paper's reported numbers this config reproduces.")
        parser.add_argument("--reference_batch", type=int | None, default=None,
                            help="The effective batch the paper's learning rate belongs to (a paper config sets it).")
        parser.add_argument("--lr_scaling", type=LrScaling, default="none",
                            help="Scale the learning rate to this run's effective batch: none, linear or sqrt "
                                 "(against --reference_batch; experiments.scaling).")
        parser.add_argument("--save_every_n_steps", type=int | None, default=None,
                            help="Also checkpoint every N training steps (checkpoints/step=N.ckpt, the newest "
                                 "kept), so a killed run resumes inside an epoch; SIGTERM/SIGINT always save one.")

    def _sub(self) -> Any:
        return self.config[self.subcommand] if self.subcommand else self.config

    def before_instantiate_classes(self) -> None:
        cfg = self._sub()
        ckpt = cfg.get("ckpt_path")
        run_dir = None
        if ckpt and Path(ckpt).exists() and Path(ckpt).parent.name == "checkpoints":  # a file, or a sharded folder
            candidate = Path(ckpt).resolve().parent.parent
            if (candidate / "config.yaml").exists():
                run_dir = candidate  # resume / evaluate inside the run that wrote the checkpoint
        if run_dir is None:
            configs = [str(c) for c in (cfg.get("config") or [])]
            experiment = cfg.experiment or experiment_name(configs)
            # every process of a launch must name the same folder before a process group exists
            launched = None if cfg.run_id else launcher_run_id()
            run_dir = Path(cfg.runs_dir) / experiment / (cfg.run_id or launched or new_run_id())
            if launched and self.subcommand == "fit" and not ckpt:
                # a requeued SLURM job or restarted torchrun worker of this run: continue it
                found = auto_resume_checkpoint(run_dir)
                if found is not None:
                    cfg.ckpt_path = str(found.resolve())
                    print(f"paperlab: resuming {run_dir} from {found}", file=sys.stderr, flush=True)
        self.run_dir = run_dir
        cfg.trainer.default_root_dir = str(run_dir)
        self._check_data(cfg)

    def parse_arguments(self, parser, args) -> None:
        """Parse, then check a resumed fit against its run's config.yaml *before* LightningCLI puts the
        checkpoint's model hyper-parameters over the command line's (which would hide a change)."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand != "fit":
            return
        ckpt = self.config[subcommand].get("ckpt_path")
        if ckpt and Path(ckpt).exists() and Path(ckpt).parent.name == "checkpoints":  # a file, or a sharded folder
            saved = Path(ckpt).resolve().parent.parent / "config.yaml"
            if saved.exists():
                self._check_same_run(self._parser(subcommand), self.config[subcommand], saved)

    @staticmethod
    def _check_same_run(parser: Any, cfg: Any, saved_path: Path) -> None:
        """A resumed fit continues its run: only the trainer's length and devices may change."""
        current = yaml.safe_load(parser.dump(cfg, format="yaml", skip_none=False, skip_check=True))
        changes = config_changes(yaml.safe_load(saved_path.read_text()) or {}, current)
        if changes:
            shown = "; ".join(changes[:3]) + (f" (and {len(changes) - 3} more)" if len(changes) > 3 else "")
            raise ConfigError(f"{saved_path}: resuming this run with a different config ({shown}); only the "
                              "trainer's length and devices may change — start a new run for anything else")

    @staticmethod
    def _check_data(cfg: Any) -> None:
        """Let the datamodule check its dataset is on disk before any class is built.

        A datamodule may define ``check_data(**init_args)``; it raises ``DatasetError`` with the
        expected layout, which ``main`` prints as one line instead of a traceback.
        """
        data = cfg.get("data")
        if not data or not data.get("class_path"):
            return
        module, name = data.class_path.rsplit(".", 1)
        check = hook(getattr(importlib.import_module(module), name), "check_data")
        if check is not None:
            check(**data.init_args.as_dict())

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        cfg = self._sub()
        run_dir = self.run_dir
        assert run_dir is not None
        experiment, run_id = run_dir.parent.name, run_dir.name
        if cfg.trainer.get("logger") is None and not cfg.trainer.get("fast_dev_run"):
            # No folder yet: only global rank 0 creates it (RunRecorder.setup), W&B's run (rank 0's
            # logger.experiment) and results.json; the other ranks create nothing.
            kwargs["logger"] = WandbLogger(
                project=cfg.wandb_project, name=f"{experiment}/{run_id}", id=run_id,
                save_dir=str(run_dir), resume="allow", group=experiment,
            )
        slurm = slurm_batch_job(os.environ) and self.subcommand == "fit"
        if slurm and not cfg.trainer.get("plugins"):
            # paperlab's stop saves at a step boundary and requeues (experiments.resume); Lightning's
            # auto-requeue would save from inside the signal handler, mid-step
            from lightning.pytorch.plugins.environments import SLURMEnvironment

            kwargs["plugins"] = [SLURMEnvironment(auto_requeue=False)]
        trainer = super().instantiate_trainer(**kwargs)
        if trainer.world_size > 1 and trainer.global_rank == 0 and _launches_workers(trainer):
            os.environ[RUN_ID_ENV] = run_id  # Lightning's launcher re-runs this CLI per device: same id
            _exported.append(RUN_ID_ENV)
        config = self._parser(self.subcommand).dump(cfg, format="yaml", skip_none=False, skip_check=True)
        recorder = RunRecorder(run_dir, experiment, run_id, yaml.safe_load(config),
                               [vars(p) if not isinstance(p, dict) else p for p in (cfg.paper or [])])
        global _interruption
        _interruption = Interruption(run_dir, requeue=slurm)
        _interruption.install()
        # Order matters: StepSeeds reseeds after PerfMonitor's first-step FLOPs count; the
        # interruption's checkpoint exists before the recorder writes ``interrupted``.
        scaling = BatchScaling(cfg.get("lr_scaling") or "none", cfg.get("reference_batch"))
        trainer.callbacks[:0] = [RunDirectory(run_dir, [recorder, _interruption]), scaling, PerfMonitor(), StepSeeds(),
                                 LoaderPosition(), _interruption, recorder, WandbExtras(recorder)]
        # Absolute, so a resume from another working directory or path spelling finds the same folder
        # (ModelCheckpoint forgets its last/best files when the dirpath string changes).
        checkpoints = str((run_dir / "checkpoints").resolve())
        every = cfg.get("save_every_n_steps")
        if every and trainer.checkpoint_callbacks:
            trainer.callbacks.append(ModelCheckpoint(dirpath=checkpoints, filename="{step}",
                                                     every_n_train_steps=every, save_top_k=1))
        for cb in trainer.checkpoint_callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.dirpath is None:
                cb.dirpath = checkpoints
                cb.save_last = True
        self.recorder = recorder
        return trainer


def _launches_workers(trainer: L.Trainer) -> bool:
    """Whether this process will start the other ranks itself (Lightning's subprocess launcher), so
    that they inherit its environment; not under torchrun or SLURM, which start every rank."""
    from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

    launcher = getattr(trainer.strategy, "launcher", None)
    env = trainer.strategy.cluster_environment if hasattr(trainer.strategy, "cluster_environment") else None
    return isinstance(launcher, _SubprocessScriptLauncher) and not getattr(env, "creates_processes_externally", True)


def _summary(cli: PaperlabCLI) -> None:
    rec = getattr(cli, "recorder", None)
    if rec is None or not rec.path.exists():
        return
    data = RunRecorder.load(rec.path)
    print("\nfinal metrics:")
    for k, v in sorted({**data["metrics"], **data["perf"]}.items()):
        print(f"  {k:28s} {v:.4g}")
    print(f"run folder: {rec.run_dir}")
    if data.get("wandb"):
        print(f"wandb: offline run {data['wandb']['dir']} (upload: wandb sync {data['wandb']['dir']})"
              if os.environ.get("WANDB_MODE") == "offline" else f"wandb: run {data['wandb']['id']}")
    print(f"results: {rec.path.resolve()}")


_interruption: Interruption | None = None  # the running fit's, for main's stop message
_exported: list[str] = []  # environment variables this process set for the ranks it launched


def main(argv: list[str] | None = None) -> None:
    """Console entry point: LightningCLI sub-commands plus paperlab's own tools."""
    args = argv  # None: LightningCLI reads sys.argv itself
    argv = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("WANDB_MODE", "offline")  # no account needed; WANDB_MODE=online uploads
    os.environ.setdefault("WANDB_SILENT", "true")
    try:
        if argv and argv[0] in TOOLS:
            importlib.import_module(TOOLS[argv[0]]).main(argv[1:])
            return
        resumed = resume_argv(argv)
        if resumed != argv:  # the expanded command is the one recorded (and LightningCLI sees one source)
            sys.argv = [sys.argv[0], *resumed]
            args = resumed
        try:
            cli = PaperlabCLI(args=args)
        finally:  # a later fit in this process (a notebook, a test) must not reuse this run's id
            while _exported:
                os.environ.pop(_exported.pop(), None)
    except SIGTERMException:  # SIGTERM/SIGINT: the run saved a checkpoint; say how to go on, exit 143/130
        stop = _interruption or Interruption(Path("."))
        print(stop.message(), file=sys.stderr)
        sys.exit(stop.exit_code())
    except Exception as e:  # only the user's own mistakes are caught below; the rest re-raise
        message = user_error(e)
        if message is None:
            raise
        # One line, not a traceback: a ConfigError/DatasetError names the key or file to fix, even
        # when a DataLoader worker raised it and the main process re-raised it wrapped.
        print(f"paperlab: error: {message}", file=sys.stderr)
        sys.exit(2)
    _summary(cli)


if __name__ == "__main__":
    main()
