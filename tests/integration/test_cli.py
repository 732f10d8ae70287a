"""The CLI: help from type hints, config composition, overrides, errors, run folder, resume."""

import hashlib
import json
from pathlib import Path

import yaml

from tests.conftest import ROOT, results_of, run_paperlab

DEMO = str(ROOT / "configs/alexnet/demo.yaml")


def test_help_comes_from_type_hints(tmp_path):
    proc = run_paperlab("fit", "--config", DEMO, "--model.help", "lit_modules.alexnet.AlexNetModule", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # help wraps lines
    assert "--model.lrn {true,false}" in text and "local response normalisation" in text


def test_configs_compose_and_override(tmp_path):
    proc = run_paperlab("fit", "--config", str(ROOT / "configs/trainer/ddp.yaml"), "--config", DEMO,
                        "--model.init_args.lr", "0.123", "--print_config", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["trainer"]["strategy"] == "ddp" and cfg["trainer"]["devices"] == 2
    assert cfg["trainer"]["max_epochs"] == yaml.safe_load(Path(DEMO).read_text())["trainer"]["max_epochs"]
    assert cfg["model"]["init_args"]["lr"] == 0.123


def test_unknown_key_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = Path(DEMO).read_text()
    assert "    num_classes: 8\n" in text
    bad.write_text(text.replace("    num_classes: 8\n", "    num_classes: 8\n    lrm: false\n"))
    proc = run_paperlab("fit", "--config", str(bad), cwd=tmp_path)
    assert proc.returncode != 0
    assert "lrm" in proc.stderr and "Traceback" not in proc.stderr


def test_an_empty_shapesworld_split_is_a_clear_error(tmp_path):
    for config, key in [(DEMO, "val_size"), (str(ROOT / "configs/unet/demo.yaml"), "train_size")]:
        proc = run_paperlab("fit", "--config", config, f"--data.init_args.{key}", "0", "--print_config",
                            cwd=tmp_path)
        assert proc.returncode != 0
        assert f'"{key}"' in proc.stderr and "v>0" in proc.stderr and "Traceback" not in proc.stderr


def test_class_count_mismatch_is_a_clear_error(tmp_path, tiny_data):
    proc = run_paperlab("fit", "--config", DEMO, "--model.init_args.num_classes", "5", *tiny_data,
                        "--trainer.logger", "false", cwd=tmp_path)
    assert proc.returncode == 2
    assert "num_classes=5" in proc.stderr and "8 classes" in proc.stderr and "Traceback" not in proc.stderr


def test_fit_writes_run_folder_then_resume_continues_same_wandb_run(tmp_path, tiny_data):
    proc = run_paperlab("fit", "--config", DEMO, "--trainer.max_epochs", "1", *tiny_data, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = results_of(proc)
    run_dir = tmp_path / "runs" / "alexnet-demo" / res["run_id"]
    assert res["experiment"] == "alexnet-demo" and (run_dir / "config.yaml").exists()
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert {"val/acc1", "val/acc5", "val/loss"} <= set(res["metrics"])
    assert {"perf/samples_per_sec", "perf/mfu", "perf/data_wait_share", "perf/flops_per_sample",
            "perf/peak_mem_mb", "perf/step_time_ms", "perf/infer_latency_bs1_ms"} <= set(res["perf"])
    assert 0 < res["perf"]["perf/infer_latency_bs1_ms"] < 1000
    assert res["wandb"]["id"] == res["run_id"] and "offline-run" in res["wandb"]["dir"]
    prov = res["provenance"]
    assert {"commit", "dirty"} <= set(prov["git"]) and prov["packages"]["torch"].startswith("2.14")
    assert prov["hardware"]["cpu_count"] >= 1
    assert res["meta"]["dataset"] == "ShapesWorld"
    assert (res["meta"]["method"], res["meta"]["primary_metric"]) == ("AlexNet", "val/acc1")  # for reports
    step = res["meta"]["global_step"]
    assert step == 4  # 256 samples / batch 64
    # Checkpoints carry their sha256 in results.json and go to W&B as one model artifact;
    # the offline run also holds the prediction table and the shared-axis definitions.
    best = res["checkpoints"]["best"]
    assert best["sha256"] == hashlib.sha256(Path(best["path"]).read_bytes()).hexdigest()
    assert res["checkpoints"]["last"]["path"].endswith("last.ckpt")
    log = b"".join(p.read_bytes() for p in (run_dir / "wandb").glob("offline-run-*/*.wandb"))
    for needle in (f"model-{res['run_id']}", "val/predictions", "samples_seen", best["sha256"]):
        assert needle.encode() in log, needle

    proc2 = run_paperlab("fit", "--config", DEMO, "--trainer.max_epochs", "2", *tiny_data,
                         "--ckpt_path", str(run_dir / "checkpoints" / "last.ckpt"), cwd=tmp_path)
    assert proc2.returncode == 0, proc2.stderr[-4000:]
    res2 = results_of(proc2)
    assert res2["run_id"] == res["run_id"] and res2["wandb"]["id"] == res["wandb"]["id"]
    assert res2["meta"]["global_step"] == 2 * step
    # The validation curve continues across the resume: one point per epoch.
    assert [(h["epoch"], h["global_step"]) for h in res2["history"]] == [(0, step), (1, 2 * step)]
    assert all("val/acc1" in h for h in res2["history"])
    # Time-to-accuracy survives the resume: the second epoch's clock starts where the first fit ended.
    t0, t1 = (h["time_s"] for h in res2["history"])
    assert 0 < t0 <= res["meta"]["train_time_s"] < t1 <= res2["meta"]["train_time_s"]
    # The W&B offline run folder of the resumed run carries the same id.
    wandb_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert wandb_runs and all(p.name.endswith(res["run_id"]) for p in wandb_runs)
    assert json.loads((run_dir / "results.json").read_text())["stages"] == ["fit"]
