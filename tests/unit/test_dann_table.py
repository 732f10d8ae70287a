"""experiments/reproduce/dann_table.py: finished runs found by (mode, seed), the table and the per-seed gain."""

import json

import pytest

from experiments.callbacks import RESULTS_VERSION
from experiments.reproduce.dann_table import dann_result, run_all, run_dir, table

pytestmark = pytest.mark.unit


def test_runs_missing_ones_and_tabulates_finished(tmp_path):
    launched = []
    assert run_all(tmp_path, tmp_path, lambda cmd, log: launched.append(cmd) or 1) == 0  # no demo config there
    (tmp_path / "configs/dann").mkdir(parents=True)
    (tmp_path / "configs/dann/demo.yaml").write_text("# recipe A\nmodel: {lr: 0.1}\n")
    for mode, acc in (("source_only", 0.5), ("dann", 0.65)):
        d = run_dir(tmp_path, mode, 0)
        d.mkdir(parents=True)
        # the resolved config LightningCLI writes: recipe A with the row's mode and seed
        (d / "config.yaml").write_text(json.dumps({"seed_everything": 0, "trainer": {"enable_progress_bar": False},
                                                   "model": {"lr": 0.1, "init_args": {"mode": mode}}}))
        (d / "results.json").write_text(json.dumps({"version": RESULTS_VERSION, "stages": ["fit"], "metrics":
                                                    {"val/target_acc1": acc, "val/source_acc1": 0.9},
                                                    "meta": {"train_time_s": 150.4}}))
    failed = run_all(tmp_path, tmp_path, lambda cmd, log: launched.append(cmd) or 1)
    assert failed == len(launched) == 6  # 2 x 3 seeds + mixed_bn and the oracle at seed 0, 2 finished
    assert all("--model.init_args.mode" in c and c[c.index("--experiment") + 1] == "dann-table" for c in launched)
    assert sum("--model.init_args.mixed_bn" in c for c in launched) == 1
    lines = table(dann_result(tmp_path, tmp_path))
    assert "| DANN | 0.650 ± 0.000 (n=1)" in "\n".join(lines) and "| 150-150 s |" in lines[2]
    assert "+0.150" in lines[-1]

    # a comment changes nothing; a changed recipe's old runs are neither tabulated nor reused (moved aside)
    (tmp_path / "configs/dann/demo.yaml").write_text("model: {lr: 0.1}  # recipe A, said differently\n")
    assert dann_result(tmp_path, tmp_path) is not None
    (tmp_path / "configs/dann/demo.yaml").write_text("model: {lr: 0.2}\n")
    assert dann_result(tmp_path, tmp_path) is None
    launched.clear()
    assert run_all(tmp_path, tmp_path, lambda cmd, log: launched.append(cmd) or 1) == 8
    assert len(list((tmp_path / "dann-table").glob("*.stale-*"))) == 2
