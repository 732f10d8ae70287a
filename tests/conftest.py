"""Shared fixtures: run paperlab in-process or as a subprocess, in a temporary runs folder."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = sorted((ROOT / "configs").glob("*/demo.yaml"))

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# ShapesWorld's render cache (datamodules/shapes/store.py) lives in a folder of this test session:
# tests neither read what a user's runs rendered nor leave files in ~/.cache/paperlab.
os.environ["PAPERLAB_CACHE"] = tempfile.mkdtemp(prefix="paperlab-test-cache-")
atexit.register(shutil.rmtree, os.environ["PAPERLAB_CACHE"], True)


# Test tiers follow the folders, so a new test file needs no marker of its own to land in the
# right tier: ``make test-fast`` selects ``-m "unit or smoke"``.
TIERS = ("unit", "smoke", "integration", "notebooks", "learning", "distributed")  # one folder each


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/<tier>/ with the tier's marker (registered in pyproject.toml)."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


def run_paperlab(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m experiments ARGS`` in ``cwd``; configs are passed as absolute paths."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, "-m", "experiments", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def paperlab_in_process(*args: str, cwd: Path) -> tuple[int, str, str]:
    """``paperlab ARGS`` inside this process: (exit code, stdout, stderr).

    For commands that stop before training (a config or dataset error) and for the smoke tier's
    one-batch fits (no logger, no checkpoint), where a subprocess would spend most of its time
    importing torch and Lightning again. The signal handlers and thread count a fit sets are put
    back. An exception that escapes
    ``main`` (a traceback) fails the calling test. The CLI seeds the global RNGs and sets
    ``PL_GLOBAL_SEED``; both are put back so that later tests see what they would have seen.
    """
    import random

    import numpy as np
    import torch

    from experiments.cli import main

    out, err, code, here, env = io.StringIO(), io.StringIO(), 0, os.getcwd(), dict(os.environ)
    rng = random.getstate(), np.random.get_state(), torch.random.get_rng_state()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}  # a fit installs its own
    threads = torch.get_num_threads()
    argv, sys.argv = sys.argv, ["paperlab", *args]  # LightningCLI warns when sys.argv holds pytest's
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(args))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(here)
        sys.argv = argv
        os.environ.clear()
        os.environ.update(env)
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        torch.random.set_rng_state(rng[2])
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue()


def validate_on_one_and_two(config: str, data: list[str], epochs: int, tmp_path: Path) -> tuple[dict, dict]:
    """Fit ``config`` briefly, then ``paperlab validate`` its last checkpoint on one process and on two
    (configs/trainer/ddp.yaml on the CPU); the two results.json records, read after each validation."""
    fit = run_paperlab("fit", "--config", config, "--trainer.max_epochs", str(epochs), *data, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-4000:]
    experiment = f"{Path(config).parent.name}-{Path(config).stem}"
    ckpt = tmp_path / "runs" / experiment / results_of(fit)["run_id"] / "checkpoints" / "last.ckpt"
    one = run_paperlab("validate", "--config", config, *data, "--ckpt_path", str(ckpt), cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-4000:]
    r1 = results_of(one)  # both validations update the same run's results.json: read it now
    two = run_paperlab("validate", "--config", str(ROOT / "configs/trainer/ddp.yaml"), "--config", config,
                       "--trainer.accelerator", "cpu", *data, "--ckpt_path", str(ckpt), cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-4000:]
    return r1, results_of(two)


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
