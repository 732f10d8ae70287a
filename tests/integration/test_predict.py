"""``paperlab predict`` on a detection demo checkpoint trained a few steps: the COCO results json, scored by
pycocotools against the ground-truth json predict wrote, gives the run's logged val/map and val/map50."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.conftest import ROOT, results_of, run_paperlab

DEMO = str(ROOT / "configs/faster_rcnn/demo.yaml")
TINY = ["--data.init_args.train_size", "96", "--data.init_args.val_size", "24", "--data.init_args.batch_size", "8",
        "--trainer.enable_progress_bar", "false"]


def _cocoeval(folder: Path) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(folder / "ground_truth.json"))
        ev = COCOeval(gt, gt.loadRes(str(folder / "detections.json")), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats.tolist()


def test_predict_coco_json_scores_to_the_runs_map(tmp_path):
    fit = run_paperlab("fit", "--config", DEMO, *TINY, "--trainer.max_epochs", "3",
                       "--trainer.check_val_every_n_epoch", "3", "--model.init_args.lr", "3e-3",
                       cwd=tmp_path, timeout=600)
    assert fit.returncode == 0, fit.stderr[-4000:]
    logged = results_of(fit)["metrics"]
    ckpt = Path(results_of(fit)["_path"]).parent / "checkpoints" / "last.ckpt"
    pred = run_paperlab("predict", "--config", DEMO, *TINY, "--ckpt_path", str(ckpt), cwd=tmp_path, timeout=300)
    assert pred.returncode == 0, pred.stderr[-4000:]
    folder = ckpt.parent.parent / "predictions"
    assert pred.stdout.strip().splitlines()[-1] == f"predictions: {folder}"
    detections = json.loads((folder / "detections.json").read_text())
    assert detections and {"image_id", "category_id", "bbox", "score"} <= set(detections[0])
    stats = _cocoeval(folder)
    assert stats[1] > 0  # the few steps found something: the comparison is not 0 == 0
    assert stats[0] == pytest.approx(logged["val/map"], abs=1e-3)
    assert stats[1] == pytest.approx(logged["val/map50"], abs=1e-3)
