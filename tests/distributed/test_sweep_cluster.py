"""Sweep trials on several processes, really trained (tiny): a 1-trial sweep whose trial runs under
torchrun with 2 CPU processes, and SLURM array task 1 (fake ``srun`` on PATH, a batch job's SLURM_*
variables) running exactly trial 1. Each trial ends as one run folder with its results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from experiments.sweep import sweep as sw
from tests.conftest import ROOT

DEMO = str(ROOT / "configs/alexnet/demo.yaml")
TINY = ["--data.init_args.train_size", "128", "--data.init_args.val_size", "64", "--trainer.max_epochs", "1",
        "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false"]


def write_sweep(tmp_path: Path, seeds: list[int]) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "name": "cluster", "method": "grid", "metric": {"name": "val/acc1", "goal": "maximize"},
        "parameters": {"seed_everything": {"values": seeds}},
        "command": ["${env}", "${interpreter}", "-m", "experiments", "fit", "--config", DEMO, *TINY, "${args}"],
    }, sort_keys=False))
    return path


def sweep(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", **(env or {})}
    env.pop("TORCHELASTIC_RUN_ID", None)
    return subprocess.run([sys.executable, "-m", "experiments", "sweep", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def trials_of(path: Path, *overrides: str) -> list[sw.Trial]:
    return sw.enumerate_trials(sw.with_overrides(sw.load_sweep(path), list(overrides)))


@pytest.mark.distributed
def test_a_trial_runs_under_torchrun_as_one_run(tmp_path):
    path = write_sweep(tmp_path, [0])
    proc = sweep(tmp_path, str(path), "--nproc-per-node", "2")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (trial,) = trials_of(path, "trainer.devices=2", "trainer.strategy=ddp")
    folders = [p for p in (tmp_path / "runs" / "cluster").iterdir() if p.is_dir()]
    assert [p.name for p in folders] == [trial.id]  # both ranks in the trial's folder
    assert sw.is_done(folders[0])
    results = json.loads((folders[0] / "results.json").read_text())
    assert results["meta"]["world_size"] == 2 and "val/acc1" in results["metrics"]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in (folders[0] / "sweep_stderr.log").read_text()


@pytest.mark.distributed
def test_array_task_runs_exactly_its_trial_through_srun(tmp_path):
    path = write_sweep(tmp_path, [0, 1])
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "srun.log"}\nexec "$@"\n')
    (bin_dir / "srun").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "501", "SLURM_ARRAY_JOB_ID": "500",
           "SLURM_ARRAY_TASK_ID": "1", "SLURM_JOB_NAME": "paperlab-sweep-cluster", "SLURM_NTASKS": "1",
           "SLURM_NTASKS_PER_NODE": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
           "SLURM_NNODES": "1", "SLURM_NODELIST": "localhost"}
    proc = sweep(tmp_path, str(path), "--nodes", "1", "--gpus-per-node", "0", "--trial-index", "1", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    trials = trials_of(path, "trainer.num_nodes=1", "trainer.devices=1")
    folders = [p.name for p in (tmp_path / "runs" / "cluster").iterdir() if p.is_dir() and p.name != "trial_state"]
    assert folders == [trials[1].id]
    assert sw.is_done(tmp_path / "runs" / "cluster" / trials[1].id)
    assert f"--run_id {trials[1].id}" in (tmp_path / "srun.log").read_text()
