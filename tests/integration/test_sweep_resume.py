"""A real sweep on the AlexNet demo: 2 settings x 2 seeds, a lost result, a resumed sweep."""

from __future__ import annotations

import csv
import json

import yaml

from tests.conftest import ROOT, run_paperlab

DEMO = str(ROOT / "configs/alexnet/demo.yaml")
TINY = ["--data.init_args.train_size", "128", "--data.init_args.val_size", "64",
        "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false"]


def write_sweep(tmp_path, parameters: dict) -> str:
    path = tmp_path / "lrn.yaml"
    path.write_text(yaml.safe_dump({
        "name": "lrn-tiny", "method": "grid", "metric": {"name": "val/acc1", "goal": "maximize"},
        "parameters": parameters,
        "command": ["${env}", "${interpreter}", "-m", "experiments", "fit", "--config", DEMO, *TINY, "${args}"],
    }, sort_keys=False))
    return str(path)


def launched(stdout: str) -> list[str]:
    return [line.split()[1] for line in stdout.splitlines() if line.startswith("launch ")]


def test_sweep_runs_resumes_and_tabulates(tmp_path):
    sweep = write_sweep(tmp_path, {"model.init_args.lrn": {"values": [True, False]},
                                   "seed_everything": {"values": [0, 1]}})
    runs = tmp_path / "runs"
    proc = run_paperlab("sweep", sweep, "--runs-dir", str(runs), "--parallel", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first = launched(proc.stdout)
    assert len(first) == 4
    folder = runs / "lrn-tiny"
    state = json.loads((folder / "sweep_state.json").read_text())["trials"]
    assert {v["status"] for v in state.values()} == {"done"}
    result = json.loads((folder / first[0] / "results.json").read_text())
    assert result["experiment"] == "lrn-tiny" and result["run_id"] == first[0]

    lost = first[2]
    (folder / lost / "results.json").unlink()
    proc = run_paperlab("sweep", sweep, "--runs-dir", str(runs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert launched(proc.stdout) == [lost]  # only the trial without a result runs again
    assert json.loads((folder / "sweep_state.json").read_text())["trials"][lost]["attempts"] == 2

    with open(folder / "ablation.csv") as f:
        table = list(csv.DictReader(f))
    assert [(r["model.init_args.lrn"], r["n"], r["base"]) for r in table] == [
        ("true", "2", "True"), ("false", "2", "False")]
    md = (folder / "ablation.md").read_text()
    assert "lrn=true (base)" in md and "| lrn=false |" in md and md in proc.stdout


def test_parameter_the_cli_rejects_is_named_and_nothing_is_written(tmp_path):
    sweep = write_sweep(tmp_path, {"model.init_args.lrm": {"values": [True, False]}})
    proc = run_paperlab("sweep", sweep, "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "parameters.model.init_args.lrm" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
