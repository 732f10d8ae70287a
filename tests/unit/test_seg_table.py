"""reproduce's segmentation table: which run each row reads, and the page lines."""

import json

from experiments.reproduce.seg_table import _run_dir, table


def _record(folder, command):
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"version": 1, "stages": ["fit"], "meta": {"epochs": 4},
                                                     "provenance": {"command": command}}))


def test_a_sweep_row_reads_its_own_trial(tmp_path):
    base = ["experiments", "fit", "--config", "configs/fcn/demo.yaml"]
    _record(tmp_path / "sweeps/fcn-stride/a", base + ["--model.init_args.stride=16", "--seed_everything=0"])
    _record(tmp_path / "sweeps/fcn-stride/b", base + ["--model.init_args.stride=32", "--seed_everything=1"])
    _record(tmp_path / "sweeps/fcn-stride/c", base + ["--model.init_args.stride=32", "--seed_everything=0"])
    where = ("sweep", "fcn-stride", ["--model.init_args.stride=32", "--seed_everything=0"])
    assert _run_dir(where, tmp_path) == tmp_path / "sweeps/fcn-stride/c"
    assert _run_dir(("demo", "segnet"), tmp_path) is None  # not run yet: cost columns only
    assert _run_dir(("none",), tmp_path) is None


def test_table_marks_untrained_rows():
    rows = [{"label": "SegNet", "epochs": 10, "val/miou": 0.81234, "val/boundary_acc": 0.7, "params": 2_361_031,
             "flops": 287_570_000, "peak_act_bytes": 1_110_016, "latency_ms": 7.0, "run": "runs/x"},
            {"label": "U-Net (depth 4)", "epochs": None, "params": 1_942_679, "flops": 379_850_000,
             "peak_act_bytes": 1_572_864, "latency_ms": 6.0, "run": None}]
    lines = table({"rows": rows, "threads": 1, "image": [64, 64]})
    assert lines[2] == "| SegNet | 10 | 0.812 | 0.700 | 2.36 M | 287.57 M | 1.06 MiB | 7.00 ms | `runs/x` |"
    assert lines[3].startswith("| U-Net (depth 4) | — | not trained | — | 1.94 M |")


def test_no_segmentation_configs_no_table(tmp_path):
    from experiments.reproduce.seg_table import seg_result

    (tmp_path / "configs/alexnet").mkdir(parents=True)  # a reproduce of another configs folder
    assert seg_result(tmp_path / "runs", tmp_path, compute=True) is None
    assert not (tmp_path / "runs/seg_table.json").exists()
