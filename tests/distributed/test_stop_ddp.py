"""A stopped two-process run (torchrun, gloo) checkpoints once, with both ranks stopping after the same
step, and ``paperlab fit --resume`` on two processes ends with the uninterrupted run's metrics.

SIGTERM reaches the ranks the two ways a cluster sends it: to every rank's process (SLURM signals
every task of a job) and to torchrun, which passes it on to its workers. The signal lands wherever
each rank is in its step; the ranks agree on where to stop through an all-reduce at the step's end
(``experiments.resume.Interruption``), never through a collective inside a signal handler.
Every launch runs in its own session with a time limit, so a hang fails the test instead of CI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.distributed.test_torchrun import free_port

SIGNAL_RANKS = ROOT / "tests/distributed/signal_ranks.py"
# 5 steps of 2 x 32 images per epoch, 2 epochs; the signal comes after step 6 (inside epoch 1).
FIT = ["fit", "--config", str(ROOT / "configs/trainer/ddp.yaml"), "--config", str(ROOT / "configs/alexnet/demo.yaml"),
       "--trainer.accelerator", "cpu", "--trainer.max_epochs", "2", "--data.init_args.train_size", "320",
       "--data.init_args.val_size", "64", "--data.init_args.batch_size", "32", "--trainer.enable_progress_bar", "false",
       "--experiment", "e"]
STEP = 6
LIMIT = 240  # seconds per launch; a hang is killed with its session


def torchrun(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 ARGS`` on loopback, killed (whole session) after LIMIT seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1",
           "PAPERLAB_PIDS": str(cwd / "pids")}
    env.pop("TORCHELASTIC_RUN_ID", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), *args]
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=LIMIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun {' '.join(args[:3])} hung for {LIMIT} s:\n{err[-4000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> dict:
    cwd = tmp_path_factory.mktemp("straight")
    run = torchrun(cwd, "-m", "experiments", *FIT, "--run_id", "straight")
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads((cwd / "runs" / "e" / "straight" / "results.json").read_text())


@pytest.mark.distributed
@pytest.mark.parametrize("mode", ["ranks", "launcher"])
def test_sigterm_stops_both_ranks_at_one_step_and_resumes_to_the_same_end(mode, tmp_path, straight):
    stop = torchrun(tmp_path, str(SIGNAL_RANKS), str(STEP), mode, *FIT, "--run_id", "stop")
    run = tmp_path / "runs" / "e" / "stop"
    assert stop.returncode != 0, stop.stderr[-4000:]
    # each rank's CLI says where it stopped: the same step on both, one after the signal's
    stopped = re.findall(r"paperlab: SIGTERM: stopped at epoch (\d+), step (\d+)", stop.stderr)
    assert len(stopped) == 2 and stopped[0] == stopped[1], stop.stderr[-4000:]
    epoch, step = map(int, stopped[0])
    assert epoch == 1 and STEP < step < 10, stopped
    assert (run / "checkpoints" / "interrupted.ckpt").is_file(), stop.stderr[-4000:]
    record = json.loads((run / "results.json").read_text())
    assert record["state"] == "interrupted" and record["interrupted"]["global_step"] == step

    resumed = torchrun(tmp_path, "-m", "experiments", "fit", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    b = json.loads((run / "results.json").read_text())
    assert b["state"] == "finished" and b["meta"]["world_size"] == 2
    assert b["meta"]["global_step"] == straight["meta"]["global_step"] == 10
    assert not (run / "checkpoints" / "interrupted.ckpt").exists()
    assert set(straight["metrics"]) == set(b["metrics"]) and len(b["metrics"]) >= 3
    for key, value in straight["metrics"].items():
        assert b["metrics"][key] == pytest.approx(value, abs=1e-6), key
