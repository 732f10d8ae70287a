"""Shared base for the semantic-segmentation family: loss, metrics, steps and W&B media.

Batch contract (``datamodules.segmentation``): images float (B, 3, H, W) normalised, masks
int64 (B, H, W) with 0..num_classes-1 and 255 = ignore. Loss: per-pixel cross-entropy plus
``dice_weight`` x soft Dice. Logs ``val/miou``, ``val/dice`` (macro over classes, torchmetrics)
and ``val/boundary_acc``. A method subclass builds ``self.net`` (images -> (B, C, H, W) logits)
and holds only its own idea (U-Net's skips, FCN's strides, SegNet's pooling indices, ASPP).
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassF1Score, MulticlassJaccardIndex

from contracts.errors import ConfigError
from lit_modules.data_checks import check_matches_data
from lit_modules.eval_means import eval_means, log_mean
from lit_modules.losses.class_balance import median_frequency_weights
from lit_modules.losses.dice import dice_loss
from lit_modules.media import to_display
from lit_modules.metrics.boundary import BoundaryAccuracy
from lit_modules.transfer import Transferable, resolve_checkpoint

IGNORE = 255


def seg_metrics(num_classes: int, prefix: str) -> MetricCollection:
    """mIoU, Dice (macro) and boundary accuracy: the family's metrics (trivial baselines use them too)."""
    return MetricCollection({
        "miou": MulticlassJaccardIndex(num_classes, average="macro", ignore_index=IGNORE),
        "dice": MulticlassF1Score(num_classes, average="macro", ignore_index=IGNORE, multidim_average="global"),
        "boundary_acc": BoundaryAccuracy(width=2, ignore_index=IGNORE),
    }, prefix=prefix)


class SegmentationModule(Transferable, L.LightningModule):
    """Per-pixel classifier trained with cross-entropy (+ optional soft Dice).

    A method subclass declares only its own arguments and passes these on as ``**kwargs``
    (``super().__init__(num_classes=num_classes, **kwargs)``), then builds ``self.net``.

    Args:
        num_classes: classes including background (must match the data).
        dice_weight: weight of the soft Dice term added to cross-entropy (0 = plain cross-entropy).
        lr: peak learning rate.
        optimizer: "adam" / "adamw" / "sgd".
        momentum: SGD momentum.
        weight_decay: decoupled weight decay (none on biases and norms).
        schedule: "cosine", "constant" or "step" after the warm-up.
        warmup_epochs: linear warm-up length (fractions allowed).
        channels_last: NHWC activations (faster oneDNN convs on CPU).
        media_images: validation images shown in W&B with their true and predicted masks.
        init_from: a segmentation run folder or checkpoint to initialise from: tensors whose name
            and shape fit are copied, the rest stay fresh and are logged (``lit_modules.transfer``).
        reinit: blocks kept at their fresh initialisation even where the checkpoint fits them.
        freeze: blocks (``net.encoder`` or ``encoder``) that get no gradient; their BN stays in eval mode.
        lr_mult: block -> factor on ``lr`` (layer-wise learning rates).
        class_weights: cross-entropy class weights: None (all 1), a list (one per class) or
            "median_frequency" (SegNet's: computed from the training masks when fitting starts,
            ``losses.class_balance``; kept in the checkpoint). The Dice term stays unweighted.
    """

    family = "segmentation"  # init_from accepts checkpoints of this family only
    primary_metric = "val/miou"

    def __init__(
        self,
        num_classes: int = 7,
        dice_weight: float = 0.0,
        lr: float = 1e-3,
        optimizer: Literal["sgd", "adamw", "adam"] = "adamw",
        momentum: float = 0.99,
        weight_decay: float = 1e-4,
        schedule: Literal["cosine", "constant", "step"] = "cosine",
        warmup_epochs: float = 0.0,
        channels_last: bool = True,
        media_images: int = 4,
        init_from: str | None = None,
        reinit: list[str] | None = None,
        freeze: list[str] | None = None,
        lr_mult: dict[str, float] | None = None,
        class_weights: list[float] | Literal["median_frequency"] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's arguments too: Lightning walks up to its __init__
        if init_from:
            resolve_checkpoint(init_from)  # a missing run folder fails before any data is rendered
        self.net: nn.Module  # built by the subclass
        self.val_metrics = seg_metrics(num_classes, "val/")
        self.eval_means = eval_means("loss")  # exact over ranks with unequal shards
        self.test_metrics = seg_metrics(num_classes, "test/")
        self.ce_weight: Tensor | None
        if class_weights is None:
            self.ce_weight = None
        else:  # only then a buffer: checkpoints of unweighted nets keep their keys
            if class_weights != "median_frequency" and len(class_weights) != num_classes:
                raise ConfigError(f"model.init_args.class_weights: {len(class_weights)} weights for {num_classes} classes")
            weights = torch.ones(num_classes) if class_weights == "median_frequency" else torch.tensor(class_weights)
            self.register_buffer("ce_weight", weights.float())

    def setup(self, stage: str) -> None:
        check_matches_data(self)
        self.apply_transfer()
        if stage == "fit" and self.hparams.class_weights == "median_frequency":
            masks = (m for _, m in self.trainer.datamodule.train_dataloader())
            weights = median_frequency_weights(masks, self.hparams.num_classes, IGNORE).to(self.ce_weight.device)
            # each rank counted its own shard: the mean over ranks keeps every rank's loss the same
            self.ce_weight.copy_(self.trainer.strategy.reduce(weights, reduce_op="mean"))
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> Tensor:
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)  # (B, C, H, W) logits

    def _loss(self, logits: Tensor, masks: Tensor) -> Tensor:
        loss = F.cross_entropy(logits, masks, weight=self.ce_weight, ignore_index=IGNORE)
        if self.hparams.dice_weight:
            loss = loss + self.hparams.dice_weight * dice_loss(logits, masks, IGNORE)
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, masks = batch
        loss = self._loss(self(images), masks)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor], metrics: MetricCollection, stage: str) -> None:
        images, masks = batch
        logits = self(images)
        log_mean(self, self.eval_means, stage, "loss", self._loss(logits, masks), len(images))
        metrics.update(logits.argmax(1), masks)
        self.log_dict(metrics, prog_bar=stage == "val")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0]).argmax(1)

    def wandb_media(self, batch: tuple[Tensor, Tensor], outputs: object) -> dict:
        """The first validation images with their true and predicted masks as W&B overlays."""
        import wandb  # only runs that log to W&B call this

        n = self.hparams.media_images
        images, masks = batch[0][:n], batch[1][:n]
        with torch.no_grad():
            pred = self(images).argmax(1)
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None) or []
        labels = {i: (names[i] if i < len(names) else str(i)) for i in range(self.hparams.num_classes)}
        shown = []
        for img, t, p in zip(to_display(images), masks.cpu().numpy(), pred.cpu().numpy(), strict=True):
            shown.append(wandb.Image(img, masks={"truth": {"mask_data": t, "class_labels": {**labels, IGNORE: "ignore"}},
                                                 "prediction": {"mask_data": p, "class_labels": labels}}))
        return {"val/segmentation": shown}
