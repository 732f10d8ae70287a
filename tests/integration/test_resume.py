"""A stopped run, resumed, ends where the uninterrupted run ends (issue #31).

Each case trains a demo for two short epochs three ways: straight through; stopped by a signal
inside the second epoch; resumed with ``paperlab fit --resume <run>``. The classification demo
stops on SIGTERM (exit 143), the DCGAN demo (manual optimisation, two optimisers, noise draws,
FID on validation) on SIGINT (exit 130).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT, paperlab_in_process, run_paperlab

STOP = ROOT / "tests/integration/stop_at_step.py"
CASES = {
    # config, extra args, the step to stop after (inside epoch 1 of 5 batches), signal, exit code
    "alexnet": ("configs/alexnet/demo.yaml", ["--save_every_n_steps", "3"], 7, "TERM", 143),
    "dcgan": ("configs/dcgan/demo.yaml", [], 14, "INT", 130),  # a GAN step counts both optimisers
}


def args_for(name: str, run_id: str) -> list[str]:
    config, extra, *_ = CASES[name]
    return ["fit", "--config", str(ROOT / config), "--trainer.max_epochs", "2", "--data.init_args.train_size", "320",
            "--data.init_args.val_size", "64", "--data.init_args.batch_size", "64",
            "--trainer.enable_progress_bar", "false", "--experiment", name, "--run_id", run_id, *extra]


def stopped(name: str, cwd: Path) -> subprocess.CompletedProcess:
    _, _, step, sig, _ = CASES[name]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, str(STOP), str(step), sig, *args_for(name, "stopped")], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def weights(run: Path) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stopped_run_resumes_to_the_uninterrupted_end(name, tmp_path):
    *_, code = CASES[name]
    straight = run_paperlab(*args_for(name, "straight"), cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr[-3000:]

    stop = stopped(name, tmp_path)
    run = tmp_path / "runs" / name / "stopped"
    assert stop.returncode == code, stop.stderr[-3000:]
    last = stop.stderr.strip().splitlines()[-1]
    assert last.endswith(f"resume with: paperlab fit --resume {Path('runs') / name / 'stopped'}"), last
    record = json.loads((run / "results.json").read_text())
    assert record["state"] == "interrupted" and "fit" not in record["stages"]
    assert record["interrupted"]["epoch"] == 1 and record["interrupted"]["checkpoint"].endswith("interrupted.ckpt")

    resumed = run_paperlab("fit", "--resume", str(run), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.strip().splitlines()[-1] == f"results: {(run / 'results.json').resolve()}"  # same folder

    a = json.loads((tmp_path / "runs" / name / "straight" / "results.json").read_text())
    b = json.loads((run / "results.json").read_text())
    assert b["state"] == "finished" and "interrupted" not in b and b["wandb"]["id"] == "stopped"  # same W&B run
    assert a["meta"]["global_step"] == b["meta"]["global_step"]
    names = sorted(p.name for p in (run / "checkpoints").iterdir())  # no last-v1.ckpt, no stale interrupted.ckpt
    assert names == sorted(p.name for p in (tmp_path / "runs" / name / "straight" / "checkpoints").iterdir())
    assert name != "alexnet" or "step=9.ckpt" in names  # --save_every_n_steps 3 keeps the newest
    assert set(a["metrics"]) == set(b["metrics"]) and len(a["metrics"]) >= 3
    for key, value in a["metrics"].items():
        assert b["metrics"][key] == pytest.approx(value, abs=1e-6), key
    wa, wb = weights(tmp_path / "runs" / name / "straight"), weights(run)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_a_resume_refuses_another_config(tmp_path):
    run = tmp_path / "runs" / "r" / "x"
    (run / "checkpoints").mkdir(parents=True)
    demo = ROOT / "configs/alexnet/demo.yaml"
    code, out, _ = paperlab_in_process("fit", "--config", str(demo), "--print_config", cwd=tmp_path)
    assert code == 0
    (run / "config.yaml").write_text(out)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"not read: the config check comes first")

    code, _, err = paperlab_in_process("fit", "--resume", str(run), "--model.init_args.lr", "0.5", cwd=tmp_path)
    assert code == 2 and "Traceback" not in err
    assert f"{run / 'config.yaml'}: resuming this run with a different config" in err
    assert "model.init_args.lr: 0.001 -> 0.5" in err

    code, _, err = paperlab_in_process("fit", "--resume", str(tmp_path / "missing"), cwd=tmp_path)
    assert code == 2 and "no config.yaml" in err and "Traceback" not in err
