"""Multi-task learning: one encoder, a class head and a box head, with fixed loss weights or with
Kendall, Gal & Cipolla 2018's uncertainty weighting ("Multi-Task Learning Using Uncertainty to Weigh
Losses", CVPR 2018).

The idea: tasks that share an encoder can help each other, but the result hinges on the loss
weights; Kendall et al. learn them as each task's homoscedastic noise (``lit_modules.losses.multitask``)
instead of searching a grid. ``weighting: class_only | box_only`` trains the single-task nets the
paper compares against, with the same encoder and recipe (the other head is then untrained).
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from torchvision.ops import box_iou, generalized_box_iou_loss

from lit_modules.data_checks import check_matches_data
from lit_modules.losses.multitask import uncertainty_weighted
from lit_modules.nets.multitask import MultiTaskNet
from lit_modules.optim import ScheduleName
from lit_modules.transfer import Transferable


class MultiTaskModule(Transferable, L.LightningModule):
    """Class + box on ``datamodules.multitask`` batches ``(images, labels, boxes)``.

    Args:
        num_classes: classes in the data.
        weighting: "fixed" (``class_weight`` and ``box_weight``), "uncertainty" (Kendall 2018), or one
            task alone: "class_only" / "box_only" (the single-task baselines).
        class_weight: fixed weight of the cross-entropy.
        box_weight: fixed weight of the box loss (L1 + GIoU).
        width: encoder channels of the first block.
        image_size: input side.
        lr: peak learning rate.
        optimizer: "adamw" or "sgd".
        weight_decay: decoupled weight decay (none on biases, norms and the log-variances).
        schedule: learning-rate schedule after the warm-up.
        warmup_epochs: linear warm-up length.
        init_from: a multitask run or checkpoint to start from (``lit_modules.transfer``).
        reinit: blocks kept fresh even where the checkpoint fits.
        freeze: blocks that get no gradient.
        lr_mult: block -> factor on ``lr``.
    """

    family = "multitask"
    primary_metric = "val/acc1"

    def __init__(self, num_classes: int = 8,
                 weighting: Literal["fixed", "uncertainty", "class_only", "box_only"] = "fixed", class_weight: float = 1.0,
                 box_weight: float = 1.0, width: int = 32, image_size: int = 64, lr: float = 1e-3,
                 optimizer: Literal["adamw", "sgd"] = "adamw", weight_decay: float = 1e-4,
                 schedule: ScheduleName = "cosine", warmup_epochs: float = 0.0, init_from: str | None = None,
                 reinit: list[str] | None = None, freeze: list[str] | None = None,
                 lr_mult: dict[str, float] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = MultiTaskNet(num_classes, width, image_size)
        self.log_vars = nn.Parameter(torch.zeros(2))  # s = log sigma^2 of (class, box); used by "uncertainty"
        self.val_acc1 = MulticlassAccuracy(num_classes, average="micro")
        self.val_iou = MeanMetric()

    def setup(self, stage: str) -> None:
        check_matches_data(self)
        self.apply_transfer()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        return self.net(images)

    def losses(self, batch: tuple[Tensor, Tensor, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(class loss, box loss, logits, boxes) of a batch."""
        images, labels, boxes = batch
        logits, pred = self(images)
        box_loss = F.l1_loss(pred, boxes) + generalized_box_iou_loss(pred, boxes, reduction="mean")
        return F.cross_entropy(logits, labels), box_loss, logits, pred

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        cls, box, _, _ = self.losses(batch)
        hp = self.hparams
        if hp.weighting in ("class_only", "box_only"):
            loss = cls if hp.weighting == "class_only" else box
        elif hp.weighting == "uncertainty":
            loss = uncertainty_weighted(torch.stack([cls, box]), self.log_vars,
                                        torch.tensor([False, True], device=cls.device))
            self.log_dict({"train/weight_class": torch.exp(-self.log_vars[0]),
                           "train/weight_box": 0.5 * torch.exp(-self.log_vars[1])})
        else:
            loss = hp.class_weight * cls + hp.box_weight * box
        self.log_dict({"train/loss": loss, "train/class_loss": cls, "train/box_loss": box}, prog_bar=False)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor, Tensor], batch_idx: int) -> None:
        cls, box, logits, pred = self.losses(batch)
        self.val_acc1(logits, batch[1])
        self.val_iou.update(box_iou(pred, batch[2]).diagonal())  # (B,) IoU of each image's own box
        self.log("val/acc1", self.val_acc1, prog_bar=True)
        self.log("val/box_iou", self.val_iou, prog_bar=True)
        self.log_dict({"val/class_loss": cls, "val/box_loss": box})

    def optimizer_groups(self) -> list[dict]:
        groups = super().optimizer_groups()
        ids = {id(self.log_vars)}
        for g in groups:
            g["params"] = [p for p in g["params"] if id(p) not in ids]
        return [g for g in groups if g["params"]] + [{"params": [self.log_vars], "weight_decay": 0.0, "lars": False}]
