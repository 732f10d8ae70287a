"""SLURM pre-emption without a cluster: a fit started with a batch job's SLURM_* variables gets
SIGUSR1 inside an epoch (``sbatch --signal=SIGUSR1@90``), saves, calls ``scontrol requeue <job>`` (a
fake one on PATH records it) and exits; the "requeued" job, the same command with the same
environment, resumes the same run folder and W&B run and ends with the uninterrupted run's metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.slurm import parse, sbatch_script
from tests.conftest import ROOT, run_paperlab

STOP = ROOT / "tests/integration/stop_at_step.py"
FIT = ["fit", "--config", str(ROOT / "configs/alexnet/demo.yaml"), "--trainer.max_epochs", "2",
       "--data.init_args.train_size", "320", "--data.init_args.val_size", "64", "--data.init_args.batch_size", "64",
       "--trainer.enable_progress_bar", "false", "--experiment", "e"]


def slurm_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "scontrol"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    fake.chmod(0o755)
    return {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "SLURM_JOB_ID": "7001", "SLURM_JOB_NAME": "paperlab-alexnet-demo", "SLURM_NTASKS": "1",
            "SLURM_NTASKS_PER_NODE": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
            "SLURM_NNODES": "1", "SLURM_NODELIST": "localhost"}


@pytest.mark.distributed
def test_slurm_requeue_resumes_the_same_run_to_the_uninterrupted_end(tmp_path):
    straight = run_paperlab(*FIT, "--run_id", "straight", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-3000:]

    env = slurm_env(tmp_path)
    stop = subprocess.run([sys.executable, str(STOP), "7", "USR1", *FIT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    run = tmp_path / "runs" / "e" / "slurm-7001"  # the job id names the run
    assert stop.returncode == 128 + 10, stop.stderr[-3000:]
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "7001"]
    assert (run / "checkpoints" / "interrupted.ckpt").is_file()
    assert json.loads((run / "results.json").read_text())["state"] == "interrupted"

    requeued = subprocess.run([sys.executable, "-m", "experiments", *FIT], cwd=tmp_path,
                              env={**env, "SLURM_RESTART_COUNT": "1"}, capture_output=True, text=True, timeout=600,
                              check=False)
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    # it continued from the stop's checkpoint (a fresh start would end with the same figures too)
    assert f"paperlab: resuming {Path('runs') / 'e' / 'slurm-7001'} from " in requeued.stderr
    assert "interrupted.ckpt" in requeued.stderr.split("paperlab: resuming", 1)[1].splitlines()[0]
    assert sorted(p.name for p in (tmp_path / "runs" / "e").iterdir()) == ["slurm-7001", "straight"]
    a = json.loads((tmp_path / "runs" / "e" / "straight" / "results.json").read_text())
    b = json.loads((run / "results.json").read_text())
    assert b["state"] == "finished" and b["wandb"]["id"] == "slurm-7001"  # same W&B run
    assert a["meta"]["global_step"] == b["meta"]["global_step"]
    assert not (run / "checkpoints" / "interrupted.ckpt").exists()
    assert set(a["metrics"]) == set(b["metrics"]) and len(a["metrics"]) >= 3
    for key, value in a["metrics"].items():
        assert b["metrics"][key] == pytest.approx(value, abs=1e-6), key


def test_sbatch_script_requeues_on_a_signal_and_runs_one_task_per_gpu(tmp_path):
    config = str(ROOT / "configs/alexnet/demo.yaml")
    args, extra = parse(["--config", config, "--nodes", "2", "--gpus-per-node", "4", "--time", "01:30:00",
                         "--partition", "p", "--account", "a", "--dry-run", "--", "--trainer.max_epochs", "3"])
    text = sbatch_script(args, extra)
    head = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    for want in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--time=01:30:00", "--partition=p",
                 "--account=a", "--signal=SIGUSR1@90", "--requeue"):
        assert f"#SBATCH {want}" in head, want
    srun = [line for line in text.splitlines() if line.startswith("srun ")]
    assert len(srun) == 1
    for part in (f"--config {config}", "--trainer.num_nodes 2", "--trainer.devices 4", "--trainer.strategy ddp",
                 "--trainer.max_epochs 3"):
        assert part in srun[0], part
