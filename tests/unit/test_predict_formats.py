"""The standard prediction files on tensors: COCO results/ground truth (boxes, RLE masks), label-map PNGs, CSV."""

from __future__ import annotations

import contextlib
import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from experiments.predict import formats


def _target() -> dict:
    masks = torch.zeros(2, 20, 30, dtype=torch.uint8)
    masks[0, 2:8, 3:12] = 1
    masks[1, 10:18, 15:29] = 1
    return {"boxes": torch.tensor([[3.0, 2, 12, 8], [15, 10, 29, 18]]), "labels": torch.tensor([1, 2]),
            "iscrowd": torch.tensor([0, 0], dtype=torch.uint8), "masks": masks}


def test_rle_round_trips():
    m = _target()["masks"][1].numpy()
    r = formats.rle(m)
    assert isinstance(r["counts"], str) and np.array_equal(mask_utils.decode({**r, "counts": r["counts"].encode()}), m)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_perfect_predictions_score_one_with_pycocotools(tmp_path, iou_type):
    t = _target()
    pred = {**t, "scores": torch.tensor([0.9, 0.8]), "masks": t["masks"].bool()}
    category_of = {1: 7, 2: 9}  # labels -> COCO category ids
    results = formats.coco_results([pred], [42], category_of)
    assert {r["category_id"] for r in results} == {7, 9} and results[0]["bbox"] == [3.0, 2.0, 9.0, 6.0]
    gt = formats.coco_ground_truth([t], [(20, 30)], [42], ["a", "b"], category_of, ["x.jpg"])
    assert gt["annotations"][0]["area"] == 54 and gt["categories"] == [{"id": 7, "name": "a"}, {"id": 9, "name": "b"}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "dt.json").write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(coco, coco.loadRes(str(tmp_path / "dt.json")), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_label_maps_and_probability_csv(tmp_path):
    labels = torch.tensor([[[0, 1], [2, 3]]])
    formats.write_label_maps(labels, ["000000"], tmp_path / "maps")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "maps" / "000000.png")), labels[0].numpy())
    probs = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    rows = formats.probability_rows(probs, torch.tensor([1, 2]), 10)
    formats.write_csv(tmp_path / "p.csv", ["index", "target", "predicted", "a", "b", "c"], rows)
    read = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["predicted"] for r in read] == ["1", "0"] and read[1]["index"] == "11"
    assert sum(float(read[0][k]) for k in "abc") == pytest.approx(1.0)


def test_keypoints_map_back_from_the_crop_to_the_image():
    from datamodules.pose_crops import crop_matrix, warp_keypoints

    kps = np.array([[30.0, 40.0, 2], [55.5, 20.25, 2], [12.0, 70.0, 1]], np.float32)
    m = crop_matrix(np.array([10.0, 15.0, 60.0, 80.0]), 64, 1.25)
    crop = warp_keypoints(kps, m, 64)
    assert np.allclose(formats.image_keypoints(crop, m), kps[:, :2], atol=1e-4)
    r = formats.coco_keypoint_result(7, kps[:, :2], np.array([0.5, 1.0, 0.0]))
    assert r["keypoints"][:3] == [30.0, 40.0, 1] and r["score"] == 0.5 and len(r["keypoints"]) == 9
