"""Shared fixtures: run paperlab in-process or as a subprocess, in a temporary runs folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = sorted((ROOT / "configs").glob("*/demo.yaml"))

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def run_paperlab(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m experiments ARGS`` in ``cwd``; configs are passed as absolute paths."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def results_of(proc: subprocess.CompletedProcess) -> dict:
    """The results.json named by the CLI's last line ``results: <path>``."""
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("results: "), proc.stdout[-2000:] + proc.stderr[-4000:]
    path = Path(last.removeprefix("results: "))
    return json.loads(path.read_text()) | {"_path": str(path)}


@pytest.fixture
def tiny_data() -> list[str]:
    """Overrides that shrink a ShapesWorld demo to seconds."""
    return ["--data.init_args.train_size", "256", "--data.init_args.val_size", "128",
            "--data.init_args.batch_size", "64", "--trainer.enable_progress_bar", "false"]
