"""``paperlab reproduce`` runs every demo and sweep of a configs folder and writes the results page."""

import re

import yaml

from tests.conftest import ROOT, run_paperlab


def test_reproduce_writes_the_page_and_resumes(tmp_path):
    demo = yaml.safe_load((ROOT / "configs/alexnet/demo.yaml").read_text())
    demo["trainer"]["max_epochs"] = 1
    demo["data"]["init_args"].update(train_size=384, val_size=64)
    configs = tmp_path / "configs"
    (configs / "alexnet").mkdir(parents=True)
    (configs / "sweeps").mkdir()
    (configs / "alexnet/demo.yaml").write_text(yaml.safe_dump(demo))
    sweep = yaml.safe_load((ROOT / "configs/sweeps/alexnet_lrn.yaml").read_text())
    sweep["parameters"]["seed_everything"]["values"] = [0, 1]
    sweep["command"][sweep["command"].index("configs/alexnet/demo.yaml")] = str(configs / "alexnet/demo.yaml")
    (configs / "sweeps/alexnet_lrn.yaml").write_text(yaml.safe_dump(sweep))
    args = ["reproduce", "--configs", str(configs), "--runs-dir", str(tmp_path / "runs"),
            "--out", str(tmp_path / "docs/RESULTS.md"), "--parallel", "2",  # sweeps: two trials at a time
            "--no-explain"]  # explain's step: tests/unit/test_reproduce_explain.py, its CLI: test_explain.py

    proc = run_paperlab(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    page = (tmp_path / "docs/RESULTS.md").read_text()
    assert "ShapesWorld" in page and "| AlexNet | ShapesWorld" in page  # the demo's report row
    assert "| alexnet | classification | val/acc1 |" in page and "linear on pixels 0." in page  # its baseline
    assert "alexnet_lrn.yaml" in page and "lrn=false" in page and "±" in page  # the ablation table
    assert "--set trainer.max_epochs=1" in page
    assert "Finished: 1 of 1 demos, 1 of 1 sweeps." in page and "partial" not in page
    assert list((tmp_path / "docs/figures").glob("pareto_*.png"))
    assert "figures/alexnet-lrn/curves_val_acc1.png" in page  # the sweep's learning curves
    assert (tmp_path / "docs/figures/alexnet-lrn/curves_val_acc1.png").stat().st_size > 1000
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page)
    assert len(images) >= 3 and all((tmp_path / "docs" / i).is_file() for i in images), images  # no broken links

    # A partial reproduce (--only, --no-sweeps) runs nothing that is done and still writes the whole page
    again = run_paperlab(*args, "--only", "alexnet", "--no-sweeps", cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    page = (tmp_path / "docs/RESULTS.md").read_text()
    assert "| AlexNet | ShapesWorld" in page
    assert "lrn=false" in page and "| alexnet |" in page  # the sweep and the baseline it did not select
    assert len(list((tmp_path / "runs").rglob("results.json"))) == 1 + 4
    # Step times come from the run records, so steps done in an earlier sitting still count
    section = page.split("## Run times")[1].split("## Ablation")[0]
    rows = re.findall(r"^\| `?([^|`]+)`? \| (.+) \|$", section, re.MULTILINE)
    times = {k.rsplit("configs/", 1)[-1]: v for k, v in rows}
    assert re.fullmatch(r"\d+\.\d min, 1 run", times["alexnet/demo.yaml"]), times
    assert re.fullmatch(r"\d+\.\d min, 4 runs", times["sweeps/alexnet_lrn.yaml"]), times
    assert re.fullmatch(r"\d+\.\d min over 5 runs", times["All"]) and "over 5 runs, summed" in page, times


def test_a_partial_page_says_so():
    from pathlib import Path

    from experiments.reproduce.reproduce import done_line
    demos = [(Path("a/demo.yaml"), Path("runs/a"), 0, 1.0), (Path("b/demo.yaml"), Path("runs/b"), None, 0.0)]
    sweeps = [(Path("s.yaml"), None, 1, 2.0)]  # a failed sweep has no table
    line = done_line(demos, sweeps)
    assert line.startswith("Finished: 1 of 2 demos, 0 of 1 sweeps.") and "partial" in line
    assert "partial" not in done_line(demos[:1], [])


def test_a_sweep_stopped_midway_says_how_far_it_got(tmp_path):
    import json

    from experiments.reproduce.reproduce import step_line
    assert step_line(None, tmp_path / "absent") == "not run yet"
    trial = tmp_path / "sweep/t1/results.json"
    trial.parent.mkdir(parents=True)
    trial.write_text(json.dumps({"provenance": {"started": "2026-12-01T10:00:00+00:00",
                                                "finished": "2026-12-01T10:02:30+00:00"}}))
    assert step_line(None, tmp_path / "sweep") == "not finished: 1 run so far"
    assert step_line(0, tmp_path / "sweep") == "2.5 min, 1 run"


def test_run_time_comes_from_the_record(tmp_path):
    import json
    import os

    from experiments.reproduce.reproduce import run_seconds, step_time
    run = tmp_path / "sweep/t1/results.json"
    run.parent.mkdir(parents=True)
    prov = {"started": "2026-12-01T10:00:00+00:00", "finished": "2026-12-01T10:02:30+00:00"}
    run.write_text(json.dumps({"provenance": prov}))
    assert run_seconds(run) == (150.0, True)
    old = tmp_path / "sweep/t2/results.json"  # written before "finished" was recorded: ends at its mtime
    old.parent.mkdir()
    old.write_text(json.dumps({"provenance": {"started": "2026-12-01T10:00:00+00:00"}}))
    os.utime(old, (1796119260, 1796119260))  # 2026-12-01T10:01:00Z
    assert run_seconds(old) == (60.0, False)
    assert step_time(tmp_path / "sweep") == (210.0, 2, False)
    assert step_time(tmp_path / "missing") == (0.0, 0, True)
