"""A shortened SimCLR demo really learns: NT-Xent falls well below its starting value."""

import math

import pytest

from tests.conftest import ROOT, results_of, run_paperlab


@pytest.mark.learning
def test_simclr_demo_loss_falls(tmp_path):
    # 24 steps of batch 128 on the demo's world and augmentations (the full demo: ~560 steps of 256).
    proc = run_paperlab("fit", "--config", str(ROOT / "configs/simclr/demo.yaml"), "--trainer.max_epochs", "2",
                        "--trainer.check_val_every_n_epoch", "2", "--data.init_args.batch_size", "128",
                        "--data.init_args.train_size", "1536", "--data.init_args.val_size", "200",
                        "--data.init_args.bank_size", "400", "--trainer.log_every_n_steps", "4",
                        "--trainer.enable_progress_bar", "false",
                        cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = results_of(proc)
    # At initialisation the partner is one of 2N - 1 = 255 near-equal candidates: loss ~ ln 255 = 5.5;
    # after these 24 steps it measured 4.6 (the full demo ends at 3.8).
    assert res["metrics"]["train/loss"] < math.log(255) - 0.5, res["metrics"]
    assert 0 <= res["metrics"]["val/knn_acc"] <= 1 and 0 <= res["metrics"]["val/linear_acc"] <= 1
