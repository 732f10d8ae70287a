"""DDP on two CPU processes (gloo, Lightning's own launcher) gives the same validation metrics as one
process on a split that does not divide by the world size (datamodules.loaders.EvalShards)."""

import pytest

from tests.conftest import ROOT, validate_on_one_and_two

DEMO = str(ROOT / "configs/alexnet/demo.yaml")
# 201 val samples, 50 per batch: the ranks read 101 and 100 (a padding sampler would count one twice).
DATA = ["--data.init_args.train_size", "256", "--data.init_args.val_size", "201",
        "--data.init_args.batch_size", "64", "--data.init_args.eval_batch_size", "50",
        "--trainer.enable_progress_bar", "false"]


@pytest.mark.distributed
def test_ddp_validation_equals_single_process(tmp_path):
    r1, r2 = validate_on_one_and_two(DEMO, DATA, 2, tmp_path)
    assert r2["meta"]["world_size"] == 2 and r1["meta"]["world_size"] == 1
    assert r2["run_id"] == r1["run_id"] and len(list((tmp_path / "runs" / "alexnet-demo").iterdir())) == 1
    # torchmetrics sums correct counts over ranks: identical, not merely close.
    assert r2["metrics"]["val/acc1"] == pytest.approx(r1["metrics"]["val/acc1"], abs=1e-6)
    assert r2["metrics"]["val/acc5"] == pytest.approx(r1["metrics"]["val/acc5"], abs=1e-6)
    assert r2["metrics"]["val/loss"] == pytest.approx(r1["metrics"]["val/loss"], rel=1e-5)  # a sum and a count
