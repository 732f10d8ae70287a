"""Localisation as regression — Sermanet et al., "OverFeat: Integrated Recognition, Localization and
Detection using Convolutional Networks" (ICLR 2014).

The idea: a classifier's features already know where the object is, so a second head regresses
its box directly, no proposals and no box search: one net answers "what" (softmax) and "where"
(4 coordinates). Here both heads train jointly, L = L_cls + λ · L_box (the paper trains the
regressor after the classifier, on its frozen features, with an l2 loss), on the image's dominant
object (``datamodules.localisation``). The paper's multi-scale sliding windows and box merging
are not reproduced: one window, the whole image.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy
from torchvision.ops import box_iou

from lit_modules.data_checks import check_matches_data
from lit_modules.losses.localisation import BoxLoss, localisation_loss, pick_box
from lit_modules.nets.det_backbones import load_local
from lit_modules.nets.overfeat import LocalisationNet
from lit_modules.optim import Optimised


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of each row of ``a`` (N, 4) with the same row of ``b`` (N, 4), xyxy."""
    return box_iou(a, b).diagonal() if len(a) else a.new_zeros(0)


class OverFeatModule(Optimised, L.LightningModule):
    """Classification + box regression of one object per image; logs ``val/acc1`` and ``val/iou``.

    Batch: ``datamodules.localisation`` (the detection contract, one object per target; the
    images of a batch must share one size). ``val/iou`` is the mean IoU of the predicted box (of
    the predicted class, for per-class boxes) with the true one; ``val/loc_acc`` the share with
    the right class and IoU >= 0.5 (ILSVRC's localisation accuracy, 1 - its error).

    Args:
        num_classes: K (labels 1..K in the data, 0..K-1 inside).
        width: first-stage channels of the trunk.
        stride: trunk output stride.
        pool: pooled map side the heads read.
        hidden: FC width of the heads.
        class_specific: per-class boxes (OverFeat's PCR) instead of one shared box (SCR).
        box_loss: "l2" (the paper) or "smooth_l1".
        lam: λ, the box term's weight.
        image_mean: normalisation mean (RGB, [0, 1] scale).
        image_std: normalisation std.
        weights: local checkpoint of the net.
        lr: peak learning rate.
        optimizer: "sgd" or "adamw".
        momentum: SGD momentum.
        weight_decay: weight decay (not on biases and norms).
        schedule: "cosine", "step" or "constant" after the warm-up.
        warmup_epochs: linear warm-up length.
    """

    primary_metric = "val/iou"
    method_label = "OverFeat localisation"

    def __init__(
        self,
        num_classes: int = 20,
        width: int = 32,
        stride: int = 16,
        pool: int = 4,
        hidden: int = 256,
        class_specific: bool = False,
        box_loss: BoxLoss = "l2",
        lam: float = 1.0,
        image_mean: tuple[float, float, float] = (0.485, 0.456, 0.406),
        image_std: tuple[float, float, float] = (0.229, 0.224, 0.225),
        weights: str | None = None,
        lr: float = 1e-3,
        optimizer: str = "adamw",
        momentum: float = 0.9,
        weight_decay: float = 0.05,
        schedule: str = "cosine",
        warmup_epochs: float = 0.0,
        **_: Any,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = LocalisationNet(num_classes, width, stride, pool, hidden, class_specific)
        load_local(self.net, weights, "localiser")
        self.register_buffer("mean", torch.tensor(image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(image_std).view(1, 3, 1, 1), persistent=False)
        self.val_acc1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.val_iou, self.val_loc = MeanMetric(), MeanMetric()

    def setup(self, stage: str) -> None:
        check_matches_data(self)

    def _inputs(self, batch: tuple[list[Tensor], list[dict]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        images, targets = batch
        x = torch.stack(images)  # (B, 3, H, W): one size per batch
        scale = x.new_tensor([x.shape[-1], x.shape[-2]] * 2)  # (4,) px -> [0, 1]
        labels = torch.cat([t["labels"] for t in targets]) - 1  # (B,) 0..K-1
        boxes = torch.cat([t["boxes"] for t in targets]) / scale  # (B, 4)
        return (x - self.mean) / self.std, labels, boxes, scale

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        """One detection per image (the detection family's output format), boxes in pixels."""
        x = torch.stack(images)
        logits, boxes = self.net((x - self.mean) / self.std)
        probs = logits.softmax(1)
        score, label = probs.max(1)
        px = pick_box(boxes, label) * x.new_tensor([x.shape[-1], x.shape[-2]] * 2)
        return [{"boxes": b[None], "scores": s[None], "labels": c[None] + 1} for b, s, c in zip(px, score, label)]

    def training_step(self, batch, batch_idx: int) -> Tensor:
        x, labels, boxes, _ = self._inputs(batch)
        logits, pred = self.net(x)
        parts = localisation_loss(logits, pred, labels, boxes, self.hparams.lam, self.hparams.box_loss)
        loss = parts["cls"] + parts["box"]
        self.log("train/loss", loss, prog_bar=True, batch_size=len(x))
        for k, v in parts.items():
            self.log(f"train/{k}", v, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        x, labels, boxes, _ = self._inputs(batch)
        logits, pred = self.net(x)
        guess = logits.argmax(1)
        iou = paired_iou(pick_box(pred, guess), boxes)
        self.val_acc1(logits, labels)
        self.val_iou.update(iou)
        self.val_loc.update(((guess == labels) & (iou >= 0.5)).float())

    def on_validation_epoch_end(self) -> None:
        self.log("val/acc1", self.val_acc1.compute(), prog_bar=True)
        self.log("val/iou", self.val_iou.compute(), prog_bar=True)
        self.log("val/loc_acc", self.val_loc.compute())
        for m in (self.val_acc1, self.val_iou, self.val_loc):
            m.reset()

    def predict_step(self, batch, batch_idx: int) -> list[dict[str, Tensor]]:
        return self(batch[0])
