"""Exact distributed evaluation for detection: ``paperlab validate`` of one checkpoint on two CPU
processes and on one give the same mAP on 51 images (shards of 26 and 25; a padding sampler would
score one image twice). Classification (201 images) is tests/distributed/test_ddp.py."""

import pytest

from tests.conftest import ROOT, validate_on_one_and_two

DEMO = str(ROOT / "configs/yolo/demo.yaml")
DATA = ["--data.init_args.train_size", "256", "--data.init_args.val_size", "51",
        "--data.init_args.batch_size", "32", "--data.init_args.eval_batch_size", "8",
        "--model.init_args.media_images", "0", "--trainer.check_val_every_n_epoch", "1",
        "--trainer.enable_progress_bar", "false"]


@pytest.mark.distributed
def test_ddp_detection_map_equals_single_process(tmp_path):
    r1, r2 = validate_on_one_and_two(DEMO, DATA, 3, tmp_path)
    assert r2["meta"]["world_size"] == 2 and r1["meta"]["world_size"] == 1
    assert r1["metrics"]["val/map50"] > 0  # a detector that finds something, so a counted-twice image shows
    for key in ("val/map50", "val/map"):
        assert r2["metrics"][key] == pytest.approx(r1["metrics"][key], abs=1e-6)
