"""Exact distributed evaluation for every family: ``paperlab validate`` of one checkpoint on two CPU
processes and on one give the same metrics on a split of odd size (shards differ by one sample; a
padding sampler would score one twice): detection mAP on 51 images, and segmentation (mIoU, boundary
accuracy), pose (PCK), captioning (BLEU) and SSL (linear probe, kNN) on 33. Classification (201
images) is tests/distributed/test_ddp.py."""

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


# (config, overrides, epochs, metrics that must be > 0 so that a sample scored twice would show, the
# metrics compared). Tiny models and splits: each case is one short fit and two validations. The tiny
# captioner reaches BLEU-1/2 only (BLEU-3/4 are 0 after 2 epochs on 256 images): BLEU-n sums its n-gram
# counts over ranks the same way for every n. Not compared: U-Net's val/loss, whose soft Dice term is
# computed per batch (docs/RUNS.md, "Exact evaluation").
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.check_val_every_n_epoch", "1"]
FAMILIES = {
    "segmentation": ("unet/demo", ["--data.init_args.train_size", "64", "--data.init_args.val_size", "33",
                                   "--data.init_args.batch_size", "16", "--data.init_args.eval_batch_size", "8",
                                   "--model.init_args.media_images", "0", "--model.init_args.width", "8"],
                     2, ("val/miou", "val/boundary_acc"), ("val/miou", "val/boundary_acc", "val/dice")),
    "pose": ("hourglass/demo", ["--data.init_args.train_size", "64", "--data.init_args.val_size", "33",
                                "--data.init_args.batch_size", "16", "--data.init_args.eval_batch_size", "8",
                                "--model.init_args.channels", "16", "--model.init_args.num_stacks", "1"],
             2, ("val/pck@0.1",), ("val/pck@0.1", "val/loss")),
    "captioning": ("show_tell/demo", ["--data.init_args.train_size", "256", "--data.init_args.val_size", "33",
                                      "--data.init_args.batch_size", "32", "--data.init_args.eval_batch_size", "8",
                                      "--model.init_args.media_images", "0"],
                   2, ("val/bleu1", "val/bleu2"), ("val/bleu1", "val/bleu2", "val/bleu3", "val/bleu4", "val/ce", "val/loss")),
    "ssl": ("simclr/demo", ["--data.init_args.train_size", "64", "--data.init_args.val_size", "33",
                            "--data.init_args.bank_size", "45", "--data.init_args.batch_size", "32",
                            "--data.init_args.eval_batch_size", "8", "--model.init_args.width", "8",
                            "--model.init_args.proj_hidden", "64", "--model.init_args.knn_k", "20"],
            1, ("val/linear_acc", "val/knn_acc"), ("val/linear_acc", "val/knn_acc")),
}


@pytest.mark.distributed
@pytest.mark.parametrize("family", list(FAMILIES))
def test_ddp_family_metrics_equal_single_process(family, tmp_path):
    config, data, epochs, nonzero, compared = FAMILIES[family]
    r1, r2 = validate_on_one_and_two(str(ROOT / f"configs/{config}.yaml"), [*data, *QUIET], epochs, tmp_path)
    assert r2["meta"]["world_size"] == 2 and r1["meta"]["world_size"] == 1
    for key in nonzero:
        assert r1["metrics"][key] > 0, (key, r1["metrics"])
    for key in compared:
        assert r2["metrics"][key] == pytest.approx(r1["metrics"][key], rel=1e-5, abs=1e-6), key
