"""Multi-task: Kendall's uncertainty weighting, the class + box batches and a training step."""

import pytest
import torch

from datamodules.multitask import MultiTaskDataModule
from datamodules.shapes.scene import WorldConfig
from lit_modules.losses.multitask import uncertainty_weighted
from lit_modules.multitask import MultiTaskModule

pytestmark = pytest.mark.unit


def test_uncertainty_weighting_matches_kendall_and_its_optimum():
    losses, s = torch.tensor([2.0, 3.0]), torch.tensor([0.5, -1.0], requires_grad=True)
    reg = torch.tensor([False, True])
    total = uncertainty_weighted(losses, s, reg)
    expect = torch.exp(torch.tensor(-0.5)) * 2 + 0.25 + 0.5 * torch.exp(torch.tensor(1.0)) * 3 - 0.5
    assert total.item() == pytest.approx(expect.item(), rel=1e-6)
    # the optimum of s: exp(s) = 2 L (classification), exp(s) = L (regression)
    best = torch.log(torch.tensor([2.0, 3.0]) * torch.tensor([2.0, 1.0])).requires_grad_(True)
    (g,) = torch.autograd.grad(uncertainty_weighted(losses, best, reg), best)
    assert torch.allclose(g, torch.zeros(2), atol=1e-6)


def test_batches_boxes_and_a_step():
    world = WorldConfig(image_size=64, kinds=("circle", "square"), max_objects=1, clutter=0)
    dm = MultiTaskDataModule(batch_size=4, train_size=8, val_size=4, num_workers=0, world=world)
    dm.setup("fit")
    images, labels, boxes = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 64, 64) and labels.dtype == torch.long and boxes.shape == (4, 4)
    assert ((boxes[:, 2:] > boxes[:, :2]) & (boxes >= 0).all(1, keepdim=True) & (boxes <= 1).all(1, keepdim=True)).all()
    for weighting in ("uncertainty", "box_only"):
        m = MultiTaskModule(num_classes=2, weighting=weighting, width=4)
        m.training_step((images, labels, boxes), 0).backward()
        head_grad = m.net.class_head[0].weight.grad
        assert (head_grad is not None and head_grad.abs().sum() > 0) == (weighting != "box_only")
        assert (m.log_vars.grad is not None) == (weighting == "uncertainty")
