"""Shared base for the classification family: loss, top-1/top-5, optimiser and schedule.

Batch contract (``datamodules.classification``): ``(images, labels)`` with images
``(B, 3, H, W)`` float (or ``(B, K, 3, H, W)`` for K-crop testing, averaged here) and labels
``(B,)`` int64. Subclasses only build ``self.net``.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from lit_modules.data_checks import check_matches_data
from lit_modules.eval_means import eval_means, log_mean
from lit_modules.media import to_display
from lit_modules.optim import ScheduleName
from lit_modules.transfer import Transferable, resolve_checkpoint


class ClassificationModule(Transferable, L.LightningModule):
    """Cross-entropy classifier with the optimisers and schedules the papers used.

    A method subclass declares only its own arguments and takes these as ``**kwargs``
    (``super().__init__(num_classes=num_classes, **kwargs)``): the CLI lists them under the
    method, and a new argument here touches no method file. The defaults are AlexNet's SGD recipe;
    each paper config sets its own.

    Args:
        num_classes: must equal the data's class count (checked at setup).
        lr: peak learning rate.
        optimizer: "sgd" (momentum, AlexNet/VGG), "adamw" (ViT) or "rmsprop_tf" (TensorFlow's RMSprop with
            decay 0.9, eps 1.0 and ``momentum``: Inception v3, MobileNet).
        momentum: SGD momentum.
        weight_decay: L2 / decoupled weight decay.
        schedule: "step" (÷10 every ``step_epochs``, the AlexNet/VGG recipe), "cosine",
            "constant", "dann" (DANN's annealing) or "lecun" (LeNet-5's decreasing steps) after the
            warm-up (``lit_modules.optim``).
        step_epochs: epochs between ÷10 steps for ``schedule="step"``.
        warmup_epochs: linear warm-up length (fractions allowed).
        label_smoothing: cross-entropy label smoothing.
        channels_last: keep conv activations NHWC (faster oneDNN/cuDNN kernels).
        init_from: a classification run folder or checkpoint to initialise from: tensors whose name
            and shape fit are copied, the rest (another head) stay fresh and are logged (``lit_modules.transfer``).
        reinit: blocks kept at their fresh initialisation even where the checkpoint fits them.
        freeze: blocks (``net.features`` or ``features``) that get no gradient; their BN stays in eval mode.
        lr_mult: block -> factor on ``lr`` (layer-wise learning rates, e.g. ``{features: 0.1}``).
    """

    family = "classification"  # init_from accepts checkpoints of this family only
    primary_metric = "val/acc1"  # the number a report puts in its table (experiments.method)

    def __init__(
        self,
        num_classes: int,
        lr: float = 0.01,
        optimizer: Literal["sgd", "adamw", "rmsprop_tf"] = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        schedule: ScheduleName = "step",
        step_epochs: int = 30,
        warmup_epochs: float = 0.0,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        init_from: str | None = None,
        reinit: list[str] | None = None,
        freeze: list[str] | None = None,
        lr_mult: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's arguments too: Lightning walks up to its __init__
        if init_from:
            resolve_checkpoint(init_from)  # a missing run folder fails before any data is rendered
        self.net: nn.Module  # built by the subclass
        top5 = min(5, num_classes)
        self.train_acc = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.val_acc1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.val_acc5 = MulticlassAccuracy(num_classes, top_k=top5, average="micro")
        self.test_acc1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.test_acc5 = MulticlassAccuracy(num_classes, top_k=top5, average="micro")
        self.eval_means = eval_means("loss")  # exact over ranks with unequal shards

    def setup(self, stage: str) -> None:
        check_matches_data(self)
        self.apply_transfer()
        if self.hparams.channels_last:
            self.net.to(memory_format=torch.channels_last)

    def forward(self, images: Tensor) -> Tensor:
        if self.hparams.channels_last and images.ndim == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def _logits(self, images: Tensor) -> Tensor:
        if images.ndim == 5:  # (B, K, 3, H, W): K crops per image, average the softmax (AlexNet 10-crop)
            b, k = images.shape[:2]
            probs = self(images.flatten(0, 1)).softmax(-1)  # (B*K, C)
            return probs.view(b, k, -1).mean(1).log()  # (B, C), log-probs keep argmax/top-k
        return self(images)

    def training_loss(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The training loss and the logits ``(B, C)`` it scores: cross-entropy; a method with extra
        training-only outputs (GoogLeNet's auxiliary heads) overrides this, not ``training_step``."""
        logits = self(images)
        return F.cross_entropy(logits, labels, label_smoothing=self.hparams.label_smoothing), logits

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, labels = batch
        loss, logits = self.training_loss(images, labels)
        self.train_acc(logits, labels)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc1", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> None:
        images, labels = batch
        logits = self._logits(images)
        acc1, acc5 = (self.val_acc1, self.val_acc5) if stage == "val" else (self.test_acc1, self.test_acc5)
        acc1(logits, labels)
        acc5(logits, labels)
        log_mean(self, self.eval_means, stage, "loss", F.cross_entropy(logits, labels), labels.numel())
        self.log(f"{stage}/acc1", acc1, prog_bar=True)
        self.log(f"{stage}/acc5", acc5)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._logits(batch[0]).argmax(-1)

    def wandb_media(self, batch: tuple[Tensor, Tensor], outputs: object, n: int = 16) -> dict:
        """A W&B table of the first ``n`` validation images with true and predicted class."""
        import wandb  # only runs that log to W&B call this

        images, labels = batch[0][:n], batch[1][:n]
        with torch.no_grad():
            probs = self._logits(images).softmax(-1)  # (n, C)
        conf, pred = probs.max(-1)
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None) or []
        name = lambda i: names[i] if i < len(names) else str(i)
        shown = images[:, 0] if images.ndim == 5 else images  # K-crop input: show the first crop
        table = wandb.Table(columns=["image", "true", "pred", "confidence", "correct"])
        for img, t, p, c in zip(to_display(shown), labels.tolist(), pred.tolist(), conf.tolist(), strict=True):
            table.add_data(wandb.Image(img), name(t), name(p), round(c, 3), t == p)
        return {"val/predictions": table}
