"""``paperlab report``: grouping by setting, mean ± std, Δ vs paper, ShapesWorld labelling, Pareto, errors."""

from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

import pytest
import yaml

from experiments.method import method_meta
from experiments.report import report, report_format, report_rows

IMAGENET_REF = {"metric": "val/acc1", "value": 0.56522, "dataset": "ILSVRC-2012 val",
                "protocol": "single centre crop", "source": "torchvision AlexNet_Weights.IMAGENET1K_V1",
                "url": "https://pytorch.org/vision/stable/models/generated/torchvision.models.alexnet.html"}


def write_run(root: Path, experiment: str, run_id: str, *, seed: int = 0, acc: float = 0.5,
              sps: float = 100.0, dataset: str = "ShapesWorld", paper: list | None = None,
              lrn: bool = True, version: int = 1) -> Path:
    """A run folder as the CLI leaves it: results.json plus the resolved config.yaml."""
    run_dir = root / experiment / run_id
    run_dir.mkdir(parents=True)
    config = {"seed_everything": seed, "trainer": {"max_epochs": 8, "default_root_dir": str(run_dir)},
              "model": {"class_path": "lit_modules.alexnet.AlexNetModule", "init_args": {"lrn": lrn}},
              "data": {"init_args": {"source": "shapes", "batch_size": 128}},
              "experiment": experiment, "run_id": run_id, "paper": paper or []}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    record = {
        "version": version, "experiment": experiment, "run_id": run_id,
        "metrics": {"val/acc1": acc, "val/acc5": min(1.0, acc + 0.3), "val/loss": 1.0 - acc},
        "perf": {"perf/samples_per_sec": sps, "perf/peak_mem_mb": 1000.0, "perf/flops_per_sample": 1.05e8},
        "meta": {"model": "AlexNetModule", "dataset": dataset, "params": 1278664, "epochs": 8,
                 "global_step": 500, "train_time_s": 90.0, "effective_batch": 128},
        "provenance": {"git": {"commit": "c56908e0123456789", "dirty": False},
                       "hardware": {"cpu": "AMD EPYC", "cpu_count": 2},
                       "command": ["paperlab", "fit", "--config", "configs/alexnet/demo.yaml"]},
        "paper": paper or [], "wandb": {}, "stages": ["fit"],
    }
    (run_dir / "results.json").write_text(json.dumps(record))
    return run_dir


def rows_for(root: Path) -> list[dict]:
    runs, _ = report.load_local([root])
    return report.build_rows(report.group_runs(runs))


def test_shapesworld_rows_are_labelled_and_never_compared(tmp_path):
    for seed in range(2):  # a ShapesWorld config that (wrongly) carries an ImageNet reference
        write_run(tmp_path, "alexnet-demo", f"s{seed}", seed=seed, paper=[IMAGENET_REF])
    (row,) = rows_for(tmp_path)
    cells = dict(zip(report_format.COLUMNS, report_format.cells(row)))
    assert cells["Dataset"] == "ShapesWorld (embedded)"
    assert cells["Paper"] == cells["Δ"] == "n/a (ShapesWorld)"
    assert cells["Metric"] == "val/acc1" and row["delta"] is None


def test_seeds_group_into_mean_std_and_delta_vs_paper(tmp_path):
    for seed, acc in enumerate([0.50, 0.52, 0.54]):
        write_run(tmp_path, "alexnet-imagenet", f"r{seed}", seed=seed, acc=acc, dataset="imagenet",
                  paper=[IMAGENET_REF])
    write_run(tmp_path, "alexnet-imagenet", "nolrn", acc=0.40, dataset="imagenet", paper=[IMAGENET_REF],
              lrn=False)
    rows = rows_for(tmp_path)
    assert len(rows) == 2  # seeds merge, the lrn setting does not
    row = next(r for r in rows if r["n"] == 3)
    assert row["mean"] == pytest.approx(0.52) and row["std"] == pytest.approx(0.02)
    assert row["delta"] == pytest.approx(0.52 - 0.56522)
    cells = dict(zip(report_format.COLUMNS, report_format.cells(row, footnote=1)))
    assert cells["Reproduced mean ± std (n seeds)"] == "0.5200 ± 0.0200 (3 seeds)"
    assert cells["Δ"] == "-0.0452" and cells["Paper"].startswith("0.5652 (ILSVRC-2012 val)")
    assert cells["Dataset"] == "imagenet" and cells["Hardware"] == "CPU 2c (AMD EPYC)"
    assert "lrn=true" in cells["Config"] and cells["Runs"] == "r0, r1, r2"
    assert cells["Git SHA"] == "c56908e" and cells["Params"] == "1.28 M"
    other = next(r for r in rows if r["n"] == 1)
    assert "lrn=false" in other["config"] and other["std"] is None


def test_pareto_front():
    # (throughput, accuracy): (1, .9) and (3, .5) trade off; (2, .4) is beaten by (3, .5).
    assert report_rows.pareto_front([(1, 0.9), (2, 0.4), (3, 0.5)]) == [0, 2]
    # For a loss the lower value wins.
    assert report_rows.pareto_front([(1, 0.9), (2, 0.4), (3, 0.5)], higher_is_better=False) == [1, 2]


def test_pareto_rows_are_marked_per_group(tmp_path):
    write_run(tmp_path, "exp", "fast", acc=0.5, sps=300.0)
    write_run(tmp_path, "exp", "good", acc=0.7, sps=100.0, lrn=False)
    write_run(tmp_path, "exp2", "worse", acc=0.4, sps=200.0)
    marked = {r["runs"]: r["pareto"] for r in rows_for(tmp_path)}
    assert marked == {"fast": True, "good": True, "worse": False}


def test_main_writes_markdown_csv_and_plot(tmp_path, capsys):
    runs = tmp_path / "runs"
    for seed in range(2):
        write_run(runs, "alexnet-demo", f"a{seed}", seed=seed, acc=0.6 + seed / 100)
        write_run(runs, "alexnet-demo", f"b{seed}", seed=seed, acc=0.5, lrn=False, sps=200.0)
    out = tmp_path / "out"
    report.main([str(runs), "--out", str(out)])
    plot = "pareto_val_acc1_shapesworld_cpu_2c_amd_epyc.png"  # speed compares on one dataset + hardware
    assert sorted(p.name for p in out.iterdir()) == [plot, "report.csv", "report.md"]
    md = (out / "report.md").read_text()
    assert "| Method | Dataset | Metric | Paper |" in md and "Pareto front of val/acc1" in md
    with open(out / "report.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2 and {r["n"] for r in table} == {"2"}
    assert all(r["paper_value"] == "n/a (ShapesWorld)" for r in table)
    assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    assert "4 run(s)" in capsys.readouterr().out


def test_empty_folder_is_an_error_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        report.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    assert "no runs" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_other_results_version_is_skipped_and_named(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_run(runs, "exp", "good")
    old = write_run(runs, "exp", "old", version=0) / "results.json"
    out = tmp_path / "out"
    report.main([str(runs), "--out", str(out)])
    err = capsys.readouterr().err
    assert str(old) in err and "version 0" in err
    md = (out / "report.md").read_text()
    assert "Skipped 1 results file(s)" in md and "| good |" in md


def test_only_old_versions_is_an_error(tmp_path, capsys):
    write_run(tmp_path, "exp", "old", version=0)
    with pytest.raises(SystemExit) as e:
        report.main([str(tmp_path), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "no usable runs" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class FakeRun:
    """The part of ``wandb.apis.public.Run`` the report reads."""

    def __init__(self, run_id: str, seed: int, acc: float) -> None:
        self.id, self.group, self.name, self.url = run_id, "alexnet-demo", f"alexnet-demo/{run_id}", f"https://x/{run_id}"
        self.config = {"resolved_config": {"seed_everything": seed,
                                           "model": {"class_path": "lit_modules.alexnet.AlexNetModule"},
                                           "data": {"init_args": {"source": "shapes", "batch_size": 128}}},
                       "provenance": {"git": {"commit": "abc1234", "dirty": True},
                                      "hardware": {"gpu": "NVIDIA H100", "gpu_count": 1}},
                       "paper": []}
        self.summary = {"val/acc1": acc, "perf/samples_per_sec": 5000.0, "epoch": 7, "_runtime": 60.0}

    def history(self, keys, pandas=False):
        return [{"val/acc1": 0.1 * e, "epoch": e} for e in range(3)]


def test_wandb_project_is_read_through_the_api(tmp_path, monkeypatch):
    class FakeApi:
        def runs(self, project):
            assert project == "me/paperlab"
            return [FakeRun("w1", 0, 0.8), FakeRun("w2", 1, 0.9), types.SimpleNamespace(id="x", config={})]

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(Api=FakeApi))
    out = tmp_path / "out"
    report.main(["--wandb-project", "me/paperlab", "--out", str(out)])
    assert (out / "curves_val_acc1.png").exists() and list(out.glob("pareto_val_acc1_*.png"))
    with open(out / "report.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["n"] == "2" and float(row["mean"]) == pytest.approx(0.85)
    assert row["dataset"] == "ShapesWorld (embedded)" and row["hardware"] == "1x NVIDIA H100"
    assert row["git"] == "abc1234+dirty"


def test_config_column_names_files_and_command_line_overrides(tmp_path):
    run_dir = write_run(tmp_path, "alexnet-lrn", "t1")
    rec = json.loads((run_dir / "results.json").read_text())
    rec["provenance"]["command"] += ["--experiment", "alexnet-lrn", "--run_id", "t1", "--trainer.max_epochs=1",
                                     "--data.init_args.train_size", "6000", "--seed_everything=0"]
    (run_dir / "results.json").write_text(json.dumps(rec))
    (row,) = rows_for(tmp_path)
    assert row["config"] == ("alexnet-lrn: configs/alexnet/demo.yaml; "
                             "trainer.max_epochs=1, data.init_args.train_size=6000")
    cmd = rec["provenance"]["command"]  # an absolute path inside the repository shows as configs/...
    cmd[cmd.index("configs/alexnet/demo.yaml")] = str(report_rows.REPO / "configs/alexnet/demo.yaml")
    (run_dir / "results.json").write_text(json.dumps(rec))
    (row,) = rows_for(tmp_path)
    assert row["config"].startswith("alexnet-lrn: configs/alexnet/demo.yaml; ")


def test_curves_come_from_the_local_history(tmp_path):
    for seed, lrn in ((0, True), (1, True), (0, False)):
        run_dir = write_run(tmp_path, "alexnet-lrn", f"r{seed}{lrn}", seed=seed, lrn=lrn)
        rec = json.loads((run_dir / "results.json").read_text())
        rec["history"] = [{"epoch": e, "global_step": 10 * e, "val/acc1": 0.2 * e} for e in range(3)]
        (run_dir / "results.json").write_text(json.dumps(rec))
    written = report.write_report(*report.load_local([tmp_path]), [str(tmp_path)], tmp_path / "out")
    assert tmp_path / "out" / "curves_val_acc1.png" in written


def test_hardware_label_gives_threads_when_fewer_than_cores():
    from experiments.provenance import label
    assert label({"cpu": "AMD EPYC", "cpu_count": 2, "torch_threads": 2}) == "CPU 2c (AMD EPYC)"
    assert label({"cpu": "AMD EPYC", "cpu_count": 2, "torch_threads": 1}) == "CPU 2c, 1 thread (AMD EPYC)"
    assert label({"cpu": "Xeon", "cpu_count": 16, "torch_threads": 4}) == "CPU 16c, 4 threads (Xeon)"
    assert label({"gpu": "NVIDIA H100", "gpu_count": 1, "torch_threads": 1}) == "1x NVIDIA H100"


def test_method_and_headline_metric_come_from_the_module():
    from lit_modules.captioning import CaptioningModule
    from lit_modules.video import VideoModule
    assert method_meta(VideoModule, {"arch": "late_fusion"}) == {"method": "Late fusion",
                                                                           "primary_metric": "val/acc1"}
    assert method_meta(CaptioningModule, {"attention": False}) == {"method": "Show-Tell",
                                                                              "primary_metric": "val/bleu4"}
    assert method_meta(type("FooModule", (), {}), {}) == {"method": "Foo"}
    from lit_modules.faster_rcnn import FasterRCNNModule
    from lit_modules.mask_rcnn import MaskRCNNModule
    assert method_meta(FasterRCNNModule, {})["method"] == "Faster R-CNN"
    assert method_meta(MaskRCNNModule, {})["method"] == "Mask R-CNN"  # not its parent's label
    assert method_meta(type("SubModule", (FasterRCNNModule,), {}), {})["method"] == "Sub"


def test_rows_name_the_method_and_its_metric_even_for_records_without_them(tmp_path):
    # results.json files written before meta carried "method", or with an older name in it: the
    # report asks the config's class
    for exp, path, init, metrics, dataset, old_meta in [
        ("single_frame-demo", "lit_modules.video.VideoModule", {"arch": "single_frame"},
         {"val/acc1": 0.18, "val/acc5": 0.7}, "ShapesWorld motions", {}),
        ("sat-demo", "lit_modules.captioning.CaptioningModule", {"attention": True},
         {"val/attention_reg": 47.0, "val/bleu4": 0.5}, "ShapesWorld captions", {}),
        ("mask-demo", "lit_modules.mask_rcnn.MaskRCNNModule", {}, {"val/map50": 0.9, "val/segm_map50": 0.8},
         "ShapesWorld", {"method": "MaskRCNN", "primary_metric": "val/segm_map50"}),
        ("gone-demo", "lit_modules.gone.GoneModule", {}, {"val/acc1": 0.5}, "ShapesWorld", {"method": "Gone v2"})]:
        run_dir = write_run(tmp_path, exp, "r0", dataset=dataset)
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
        cfg["model"] = {"class_path": path, "init_args": init}
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg))
        rec = json.loads((run_dir / "results.json").read_text())
        rec["metrics"] = metrics
        rec["meta"].update(old_meta)
        (run_dir / "results.json").write_text(json.dumps(rec))
    rows = {r["experiment"]: r for r in rows_for(tmp_path)}
    assert (rows["mask-demo"]["method"], rows["mask-demo"]["metric"]) == ("Mask R-CNN", "val/segm_map50")
    assert rows["gone-demo"]["method"] == "Gone v2"  # a class no longer importable: the record's own name
    frame, sat = rows["single_frame-demo"], rows["sat-demo"]
    assert (frame["method"], frame["metric"], frame["dataset"]) == ("Single frame", "val/acc1",
                                                                   "ShapesWorld motions (embedded)")
    assert (sat["method"], sat["metric"]) == ("Show-Attend-Tell", "val/bleu4")  # not the first val/ name
    cells = dict(zip(report_format.COLUMNS, report_format.cells(sat)))
    assert cells["Paper"] == "n/a (ShapesWorld)"


def test_started_is_when_the_process_started():
    # A run's wall time counts Python's start-up and imports, not only the time after the recorder exists
    import subprocess
    import sys
    code = ("import time; time.sleep(1.5); from datetime import datetime, timezone; "
            "from experiments.provenance import process_start; "
            "print((datetime.now(timezone.utc) - process_start()).total_seconds())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert 1.5 <= float(out.stdout) < 120, out.stdout
