"""Faster R-CNN (small backbone) and YOLO v1 fit a handful of ShapesWorld scenes: the loss falls."""

from __future__ import annotations

import pytest
import torch

from datamodules.detection import DetectionDataModule
from lit_modules.faster_rcnn import FasterRCNNModule
from lit_modules.yolo import YOLOModule


def _batch():
    dm = DetectionDataModule(image_size=64, world={"image_size": 64, "kinds": ["circle", "square", "star"],
                                                  "clutter": 0, "background": "flat"},
                             augment="none", batch_size=8, train_size=8, val_size=8)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.mark.learning
@pytest.mark.parametrize("make", [
    lambda: FasterRCNNModule(num_classes=3, backbone="small", width=16, representation=128, min_size=64, max_size=64,
                             image_mean=(0.5,) * 3, image_std=(0.25,) * 3, rpn_post_nms_train=100, box_batch_size=64),
    lambda: YOLOModule(num_classes=3, head="v1", width=16, stages=3, grid=8, fc_hidden=0,
                       image_mean=(0.5,) * 3, image_std=(0.25,) * 3),
], ids=["faster_rcnn", "yolo_v1"])
def test_detector_loss_falls(make):
    torch.manual_seed(0)
    images, targets = _batch()
    m = make()
    m.train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(40):
        loss = sum(m.losses(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5, losses[::5]
