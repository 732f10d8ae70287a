"""Localisation as regression (OverFeat): the loss, the net's boxes, the dominant-object data, the module."""

from __future__ import annotations

import pytest
import torch

from datamodules.localisation import LocalisationDataModule, dominant
from experiments.baselines.localisation import centred_box_iou
from lit_modules.losses.localisation import localisation_loss
from lit_modules.nets.overfeat import LocalisationNet
from lit_modules.overfeat import OverFeatModule, paired_iou

WORLD = {"image_size": 64, "kinds": ["circle", "square", "star"], "min_objects": 1, "max_objects": 3,
         "scale_range": [0.3, 0.6]}


def test_loss_matches_hand_computed_values_and_lambda_scales_the_box_term():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    labels = torch.tensor([0, 1])
    true = torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 1.0, 1.0]])
    pred = true + torch.tensor([[0.1, 0.0, 0.0, 0.0], [0.0, 0.2, 0.0, 0.0]])
    parts = localisation_loss(logits, pred, labels, true, lam=1.0)
    ce = (-torch.log_softmax(logits, 1)[[0, 1], [0, 1]]).mean()
    torch.testing.assert_close(parts["cls"], ce)
    torch.testing.assert_close(parts["box"], torch.tensor((0.01 + 0.04) / 2))
    torch.testing.assert_close(localisation_loss(logits, pred, labels, true, lam=5.0)["box"], 5 * parts["box"])
    assert localisation_loss(logits, true, labels, true)["box"] == 0


def test_per_class_boxes_train_only_the_true_class_box():
    true = torch.tensor([[0.2, 0.2, 0.6, 0.6]])
    boxes = torch.rand(1, 3, 4, requires_grad=True)
    localisation_loss(torch.zeros(1, 3), boxes, torch.tensor([1]), true)["box"].backward()
    assert boxes.grad[0, 1].abs().sum() > 0 and boxes.grad[0, [0, 2]].abs().sum() == 0


@pytest.mark.parametrize("per_class", [False, True])
def test_net_gives_logits_and_valid_normalised_boxes(per_class):
    logits, boxes = LocalisationNet(5, width=8, stride=16, pool=2, hidden=16, class_specific=per_class)(
        torch.randn(3, 3, 64, 64))
    assert logits.shape == (3, 5) and boxes.shape == ((3, 5, 4) if per_class else (3, 4))
    assert boxes.min() >= 0 and boxes.max() <= 1
    assert (boxes[..., 2:] >= boxes[..., :2]).all()


def test_paired_iou_and_centred_box_baseline_match_hand_computed():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 0.0, 3.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    torch.testing.assert_close(paired_iou(a, b), torch.tensor([2 / 6, 1.0]))
    # a 10x10 image, object in the centre 4x4: a centred 4x4 box is exact, the full image gives 16/100
    box, size = torch.tensor([[3.0, 3.0, 7.0, 7.0]]), torch.tensor([[10.0, 10.0]])
    assert centred_box_iou(box, size, (4.0, 4.0)) == pytest.approx(1.0)
    assert centred_box_iou(box, size, None) == pytest.approx(0.16)


def test_dominant_keeps_the_largest_box_the_metric_does_not_ignore():
    t = {"boxes": torch.tensor([[0.0, 0, 10, 10], [0, 0, 30, 30], [0, 0, 20, 20]]), "labels": torch.tensor([1, 2, 3]),
         "iscrowd": torch.tensor([0, 1, 0], dtype=torch.uint8)}
    d = dominant(t)
    assert d["labels"].tolist() == [3] and d["boxes"].tolist() == [[0, 0, 20, 20]]
    assert dominant({**t, "iscrowd": torch.ones(3, dtype=torch.uint8)}) is None


def test_module_learns_step_and_logs_acc1_and_iou_on_the_world():
    dm = LocalisationDataModule(image_size=64, world=WORLD, batch_size=8, train_size=8, val_size=8)
    dm.setup("fit")
    images, targets = next(iter(dm.train_dataloader()))
    assert all(len(t["boxes"]) == 1 and len(t["labels"]) == 1 for t in targets)
    torch.manual_seed(0)
    m = OverFeatModule(num_classes=3, width=8, pool=2, hidden=32, lam=2.0)
    opt = torch.optim.AdamW(m.parameters(), 3e-3)
    losses = []
    for i in range(15):
        loss = m.training_step((images, targets), i)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # memorises one batch
    m.eval()
    logged = {}
    m.log = lambda k, v, **_: logged.__setitem__(k, float(v))
    with torch.no_grad():
        m.validation_step(next(iter(dm.val_dataloader())), 0)
        m.on_validation_epoch_end()
        preds = m(images)
    assert set(logged) == {"val/acc1", "val/iou", "val/loc_acc"}
    assert 0 <= logged["val/iou"] <= 1 and 0 <= logged["val/acc1"] <= 1
    assert all(p["boxes"].shape == (1, 4) and 1 <= p["labels"].item() <= 3 for p in preds)
