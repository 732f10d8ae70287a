"""SSD and the detection family's ``detect_stages``: losses and outputs on ShapesWorld, stage split."""

from __future__ import annotations

import pytest
import torch

from datamodules.detection import DetectionDataModule
from lit_modules.faster_rcnn import FasterRCNNModule
from lit_modules.nets.ssd import SmallSSDFeatures, build_ssd
from lit_modules.ssd import SSDModule
from lit_modules.yolo import YOLOModule

SSD_SMALL = {"backbone": "small", "size": 64, "width": 8, "extra": 2, "image_mean": (0.5,) * 3,
             "image_std": (0.25,) * 3}


@pytest.fixture(scope="module")
def batch():
    dm = DetectionDataModule(image_size=64, world={"image_size": 64, "kinds": ["circle", "square", "star"]},
                             batch_size=2, train_size=2, val_size=2)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


def test_small_ssd_features_halve_per_map():
    feats = SmallSSDFeatures(width=8, extra=3)(torch.zeros(1, 3, 96, 96))
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(12, 12), (6, 6), (3, 3), (2, 2)]
    assert [f.shape[1] for f in feats.values()] == SmallSSDFeatures(8, 3).out_channels


def test_ssd_losses_train_every_head_and_eval_predicts_boxes(batch):
    images, targets = batch
    torch.manual_seed(0)
    m = SSDModule(num_classes=3, **SSD_SMALL)
    m.train()
    losses = m.losses(images, targets)
    assert set(losses) == {"bbox_regression", "classification"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert m.net.head.classification_head.module_list[0].weight.grad.abs().sum() > 0
    assert m.net.backbone.body[0][0].weight.grad is not None
    m.eval()
    with torch.no_grad():
        preds = m(images)
    assert len(preds) == 2
    for p in preds:
        k = len(p["boxes"])
        assert p["boxes"].shape == (k, 4) and p["scores"].shape == (k,)
        assert k == 0 or (p["labels"].min() >= 1 and p["labels"].max() <= 3 and p["boxes"].max() <= 64)


def test_ssd300_has_the_papers_six_maps_and_8732_default_boxes():
    with torch.device("meta"):  # shapes only: no 138 M-parameter initialisation, no 31 GFLOP forward
        net = build_ssd(20, "vgg16")
    assert net.head.classification_head.module_list[0].out_channels == 4 * 21  # conv4_3: 4 boxes, 21 classes
    assert sum(len(a) for a in net.anchor_generator._wh_pairs) == 4 + 6 + 6 + 6 + 4 + 4
    with torch.no_grad():
        feats = net.backbone(torch.zeros(1, 3, 300, 300, device="meta"))
    sides = [f.shape[-1] for f in feats.values()]
    assert sides == [38, 19, 10, 5, 3, 1]
    assert sum(s * s * n for s, n in zip(sides, [4, 6, 6, 6, 4, 4])) == 8732


@pytest.mark.parametrize("make", [
    lambda: SSDModule(num_classes=3, **SSD_SMALL),
    lambda: FasterRCNNModule(num_classes=3, backbone="small", width=8, representation=64, min_size=64, max_size=64,
                             rpn_post_nms_test=20),
    lambda: YOLOModule(num_classes=3, width=8, stages=4, grid=4, fc_hidden=0),
], ids=["ssd", "faster_rcnn", "yolo"])
def test_detect_stages_gives_forwards_predictions_and_positive_stage_times(batch, make):
    torch.manual_seed(0)
    m = make().eval()
    images = batch[0][:1]
    with torch.inference_mode():
        expected = m(images)
        preds, seconds = m.detect_stages(images)
    assert set(seconds) == {"proposals", "features", "head"}
    assert seconds["features"] > 0 and seconds["head"] > 0
    assert (seconds["proposals"] > 0) == isinstance(m, FasterRCNNModule)  # one-stage nets: 0
    for a, b in zip(preds, expected, strict=True):
        for k in ("boxes", "scores", "labels"):
            torch.testing.assert_close(a[k], b[k])


def test_ssd_map_counts_its_max_det_detections_without_torchmetrics_warning():
    import warnings

    m = SSDModule(num_classes=3, max_det=200, **SSD_SMALL)
    assert m.val_map.max_detection_thresholds[-1] == 200 and m.test_map.max_detection_thresholds[-1] == 200
    # 150 detections, the one true box the lowest-scored: counted only when all 150 count (100 would drop it)
    boxes = torch.cat([torch.tensor([[0.0, 0, 5, 5]]).repeat(149, 1), torch.tensor([[10.0, 10, 30, 30]])])
    pred = {"boxes": boxes, "scores": torch.linspace(1, 0.1, 150), "labels": torch.ones(150, dtype=torch.long)}
    gt = {"boxes": torch.tensor([[10.0, 10, 30, 30]]), "labels": torch.ones(1, dtype=torch.long)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torchmetrics warns when an image has more than the last threshold
        m.val_map.update([pred], [gt])
    assert m.val_map.compute()["map_50"] > 0
