"""The issue's two-node torchrun command, simulated with two node processes on loopback: one run
folder (rank 0's), one results.json with world size 2, and the batch and learning rate recorded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEMO = str(ROOT / "configs/alexnet/demo.yaml")
TINY = ["--trainer.max_epochs", "1", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false",
        "--data.init_args.train_size", "128", "--data.init_args.val_size", "64"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_nodes(cwd: Path, *args: str, nodes: int = 2, timeout: int = 300) -> list[subprocess.CompletedProcess]:
    """``torchrun --nnodes N --node-rank r ... -m experiments ARGS`` for every r, on loopback."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    env.pop("TORCHELASTIC_RUN_ID", None)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", str(nodes), "--nproc-per-node", "1",
         "--node-rank", str(r), "--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "experiments", *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(nodes)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.distributed
def test_torchrun_two_nodes_make_one_run(tmp_path):
    nodes = torchrun_nodes(tmp_path, "fit", "--config", DEMO, "--trainer.num_nodes", "2", "--trainer.devices", "1",
                           "--trainer.strategy", "ddp", "--reference_batch", "256", "--lr_scaling", "linear", *TINY)
    for n in nodes:
        assert n.returncode == 0, n.stderr[-4000:]
    folders = [p for p in (tmp_path / "runs").glob("*/*") if p.is_dir()]
    assert len(folders) == 1, folders  # torchrun's default run id is "none": rank 1 takes rank 0's folder
    results = json.loads((folders[0] / "results.json").read_text())
    assert results["run_id"] == folders[0].name and results["wandb"]["id"] == folders[0].name
    meta = results["meta"]
    assert meta["world_size"] == 2
    # 64 per device x 2 processes x 1: half the declared reference batch, so linear scaling halves the lr
    assert (meta["per_device_batch"], meta["accumulate_grad_batches"], meta["effective_batch"]) == (64, 1, 128)
    assert meta["lr_scaling"] == "linear" and meta["reference_batch"] == 256
    assert meta["lr_used"] == pytest.approx(meta["lr"] * 128 / 256)
    assert "differs from the paper recipe's 256" in nodes[0].stderr
    assert len(list(folders[0].glob("wandb/*run-*"))) == 1  # one W&B run
