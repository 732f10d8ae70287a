"""Exact distributed evaluation for detection: ``paperlab validate`` of one checkpoint on two CPU
processes and on one give the same mAP on 51 images (shards of 26 and 25; a padding sampler would
score one image twice). Classification (201 images) is tests/distributed/test_ddp.py."""

import pytest

from tests.conftest import ROOT, results_of, run_paperlab

DEMO = str(ROOT / "configs/yolo/demo.yaml")
DATA = ["--data.init_args.train_size", "256", "--data.init_args.val_size", "51",
        "--data.init_args.batch_size", "32", "--data.init_args.eval_batch_size", "8",
        "--model.init_args.media_images", "0", "--trainer.check_val_every_n_epoch", "1",
        "--trainer.enable_progress_bar", "false"]


@pytest.mark.distributed
def test_ddp_detection_map_equals_single_process(tmp_path):
    fit = run_paperlab("fit", "--config", DEMO, "--trainer.max_epochs", "3", *DATA, cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-4000:]
    ckpt = tmp_path / "runs" / "yolo-demo" / results_of(fit)["run_id"] / "checkpoints" / "last.ckpt"

    one = run_paperlab("validate", "--config", DEMO, *DATA, "--ckpt_path", str(ckpt), cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-4000:]
    r1 = results_of(one)
    two = run_paperlab("validate", "--config", str(ROOT / "configs/trainer/ddp.yaml"), "--config", DEMO,
                       "--trainer.accelerator", "cpu", *DATA, "--ckpt_path", str(ckpt), cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-4000:]
    r2 = results_of(two)
    assert r2["meta"]["world_size"] == 2 and r1["meta"]["world_size"] == 1
    assert r1["metrics"]["val/map50"] > 0  # a detector that finds something, so a counted-twice image shows
    for key in ("val/map50", "val/map"):
        assert r2["metrics"][key] == pytest.approx(r1["metrics"][key], abs=1e-6)
