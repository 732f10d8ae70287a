"""torchmetrics' MeanAveragePrecision, as the detection modules log it, against pycocotools' COCOeval."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lit_modules.detection import DetectionModule, map_metric

H = W = 64


def _box_mask(box: list[float]) -> np.ndarray:
    x0, y0, x1, y1 = (round(v) for v in box)
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def _random_case(seed: int):
    g = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(6):
        n = int(g.integers(1, 5))
        xy = g.integers(0, 40, (n, 2))
        wh = g.integers(6, 24, (n, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, W)], 1)
        labels = g.integers(1, 4, n)
        gts.append((boxes, labels))
        jitter = g.integers(-2, 3, boxes.shape)
        pboxes = np.clip(boxes + jitter, 0, W)
        pboxes[:, 2:] = np.maximum(pboxes[:, 2:], pboxes[:, :2] + 2)
        # sub-pixel offsets: integer boxes give IoUs exactly on a threshold (0.6, 0.75), where float32
        # (torchmetrics) and float64 (json) rounding may decide a match differently
        pboxes = pboxes + g.uniform(-0.3, 0.3, pboxes.shape)
        plabels = np.where(g.random(n) < 0.8, labels, g.integers(1, 4, n))
        extra = int(g.integers(0, 3))  # false positives
        exy = g.integers(0, 40, (extra, 2))
        pboxes = np.concatenate([pboxes, np.concatenate([exy, exy + 15], 1)])
        plabels = np.concatenate([plabels, g.integers(1, 4, extra)])
        preds.append((pboxes, plabels, g.random(len(pboxes))))
    return gts, preds


def _cocoeval(gts, preds, iou_type: str) -> np.ndarray:
    images, anns, results = [], [], []
    for i, ((boxes, labels), (pb, pl, ps)) in enumerate(zip(gts, preds)):
        images.append({"id": i, "width": W, "height": H})
        for b, lab in zip(boxes.tolist(), labels.tolist()):
            rle = mask_utils.encode(np.asfortranarray(_box_mask(b)))
            rle["counts"] = rle["counts"].decode()
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": lab, "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": (b[2] - b[0]) * (b[3] - b[1]),
                         "segmentation": rle})
        for b, lab, s in zip(pb.tolist(), pl.tolist(), ps.tolist()):
            rle = mask_utils.encode(np.asfortranarray(_box_mask(b)))
            rle["counts"] = rle["counts"].decode()
            results.append({"image_id": i, "category_id": lab, "score": s, "segmentation": rle,
                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps({"images": images, "annotations": anns,
                                            "categories": [{"id": k} for k in (1, 2, 3)]}))
        gt.createIndex()
        dt = gt.loadRes(json.loads(json.dumps(results)))
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_map_matches_pycocotools_cocoeval(seed):
    gts, preds = _random_case(seed)
    metric = map_metric(masks=True)
    for (boxes, labels), (pb, pl, ps) in zip(gts, preds):
        target = {"boxes": torch.tensor(boxes).float(), "labels": torch.tensor(labels),
                  "masks": torch.from_numpy(np.stack([_box_mask(b) for b in boxes.tolist()]))}
        pred = {"boxes": torch.tensor(pb).float(), "labels": torch.tensor(pl), "scores": torch.tensor(ps).float(),
                "masks": torch.from_numpy(np.stack([_box_mask(b) for b in pb.tolist()]))}
        metric.update(DetectionModule.for_metric([pred]), DetectionModule.for_metric([target]))
    r = metric.compute()
    bbox, segm = _cocoeval(gts, preds, "bbox"), _cocoeval(gts, preds, "segm")
    assert 0.1 < bbox[0] < 0.95  # a non-trivial case
    assert r["bbox_map"].item() == pytest.approx(bbox[0], abs=1e-4)
    assert r["bbox_map_50"].item() == pytest.approx(bbox[1], abs=1e-4)
    assert r["segm_map"].item() == pytest.approx(segm[0], abs=1e-4)
    assert r["segm_map_50"].item() == pytest.approx(segm[1], abs=1e-4)


def test_map_counts_the_last_max_detections_threshold_not_pycocotools_fixed_100():
    """SSD counts 200 detections an image: ``map`` (not just ``map_50``) must count them too, never -1."""
    gt = torch.tensor([[10.0, 10.0, 40.0, 40.0]])
    decoys = torch.tensor([[60.0, 60.0, 70.0, 70.0]]).repeat(150, 1)  # no overlap with the object
    preds = [{"boxes": torch.cat([decoys, gt]), "scores": torch.cat([torch.linspace(0.9, 0.5, 150), torch.tensor([0.1])]),
              "labels": torch.ones(151, dtype=torch.long)}]  # the right box ranks 151st
    targets = [{"boxes": gt, "labels": torch.ones(1, dtype=torch.long)}]
    results = {}
    for max_dets in (100, 200):
        metric = map_metric(False, max_dets)
        metric.warn_on_many_detections = False
        metric.update(preds, targets)
        results[max_dets] = metric.compute()
    assert float(results[100]["map"]) == 0.0 and float(results[100]["map_50"]) == 0.0  # cut at 100
    assert float(results[200]["map_50"]) > 0 and float(results[200]["map"]) == pytest.approx(float(results[200]["map_50"]))
    assert not any(k.endswith(("precision", "recall", "ious", "scores")) for k in results[200])  # no extended keys leak
