"""Shared base for contrastive self-supervision: encoder, online linear probe, kNN monitor, optimiser.

Batch contract (``datamodules.ssl``): training ``(views, labels)`` with two augmented views
of each image stacked as ``(B, 2, 3, H, W)`` float, and labels ``(B,)`` int64, -1 for unlabelled images. Validation and test
have two loaders: index 0 the labelled *bank* (training images, no augmentation), index 1 the
labelled evaluation images, both ``(images, labels)``.

Evaluation during pre-training, never touching the encoder's gradients:

- ``val/linear_acc``: a linear classifier on *detached* features of the first view, trained by
  its own loss term on the labelled training images (labels -1 are ignored), scored on loader 1.
- ``val/knn_acc``: weighted kNN (Wu et al. 2018; k=200, T=0.1) of loader-1 features against the
  bank features gathered from every process.

Subclasses build ``self.head`` (and whatever else) and implement ``ssl_loss``.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from contracts.batches import check_two_views
from contracts.errors import ConfigError
from lit_modules.data_checks import check_matches_data
from lit_modules.losses.gather import gather_uneven
from lit_modules.metrics.knn import knn_scores
from lit_modules.nets import ssl as ssl_nets
from lit_modules.nets.ssl import Encoder
from lit_modules.optim import Optimised, param_groups


class SSLModule(Optimised, L.LightningModule):
    """Contrastive pre-training with an online probe and a kNN monitor.

    A method subclass declares only its own arguments and passes these on as ``**kwargs``; the
    defaults are MoCo v2's recipe, and each paper config sets its own.

    Args:
        num_classes: classes of the held-out labels (probe and kNN only).
        encoder: backbone (``lit_modules.nets.ssl.encoder``).
        cifar_stem: 3x3 stride-1 ResNet stem without max pool, for small images.
        width: first-stage channels of ``small_cnn``.
        lr: peak learning rate of the encoder and head (after warm-up).
        optimizer: "lars" (SimCLR), "sgd" (MoCo) or "adamw".
        momentum: SGD/LARS momentum.
        weight_decay: on weights; biases and norm parameters are exempt (and from LARS).
        warmup_epochs: linear warm-up, then cosine decay to 0.
        probe_lr: learning rate of the online linear probe (its own group, no weight decay).
        knn_k: neighbours of the kNN monitor.
        knn_temperature: temperature of the kNN vote.
    """

    primary_metric = "val/linear_acc"  # the online linear probe

    def __init__(
        self,
        num_classes: int,
        encoder: Encoder = "resnet50",
        cifar_stem: bool = False,
        width: int = 32,
        lr: float = 0.03,
        optimizer: Literal["lars", "sgd", "adamw"] = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        warmup_epochs: float = 0.0,
        probe_lr: float = 0.1,
        knn_k: int = 200,
        knn_temperature: float = 0.1,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's arguments too: Lightning walks up to its __init__
        self.backbone, self.feat_dim = ssl_nets.encoder(encoder, cifar_stem=cifar_stem, width=width)
        self.head: nn.Module  # built by the subclass
        # BN without affine parameters first (as in MAE's linear probing): the probe stays
        # well conditioned while the features' scale drifts during pre-training.
        self.probe = nn.Sequential(nn.BatchNorm1d(self.feat_dim, affine=False), nn.Linear(self.feat_dim, num_classes))
        self.val_linear = MulticlassAccuracy(num_classes, average="micro")
        self.val_knn = MulticlassAccuracy(num_classes, average="micro")
        self.test_linear = MulticlassAccuracy(num_classes, average="micro")
        self.test_knn = MulticlassAccuracy(num_classes, average="micro")
        self._bank: list[tuple[Tensor, Tensor]] = []
        self._bank_all: tuple[Tensor, Tensor] | None = None

    def ssl_loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        """The method's loss on two views ``(B, 3, H, W)``, and the encoder features of ``x1``."""
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        check_matches_data(self)

    def forward(self, images: Tensor) -> Tensor:
        """Features ``(B, F)`` of ``(B, 3, H, W)``; for a two-view batch ``(B, 2, 3, H, W)`` the
        projections ``(B, 2, D)`` of both views (the trained computation, used for FLOPs)."""
        if images.ndim == 5:
            b = images.shape[0]
            return self.head(self.backbone(images.flatten(0, 1))).unflatten(0, (b, 2))  # (B, 2, D)
        return self.features(images)

    def features(self, images: Tensor) -> Tensor:
        """The representation ``(B, F)`` of ``(B, 3, H, W)`` that the probe and kNN read (colourisation
        overrides it: its encoder sees grey images)."""
        return self.backbone(images)

    def flops_input(self, batch: tuple) -> Tensor:
        return batch[0][:1]  # one image, both views

    def training_step(self, batch: tuple, batch_idx: int) -> Tensor:
        views, labels = batch
        views = check_two_views(views, f"{type(self).__name__}.training_step")
        loss, h1 = self.ssl_loss(views[:, 0], views[:, 1])
        # Online probe on detached features: evaluation only, no gradient reaches the encoder.
        ce = F.cross_entropy(self.probe(h1.detach()), labels.clamp(min=0), reduction="none")  # (B,)
        known = (labels >= 0).float()
        probe_loss = (ce * known).sum() / known.sum().clamp(min=1)  # no NaN on unlabelled batches
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/probe_loss", probe_loss)
        return loss + probe_loss

    # --- evaluation: loader 0 fills the bank, loader 1 is scored --------------------------------
    def on_validation_epoch_start(self) -> None:
        self._bank, self._bank_all = [], None

    on_test_epoch_start = on_validation_epoch_start

    def _eval_step(self, batch: tuple[Tensor, Tensor], dataloader_idx: int, stage: str) -> None:
        images, labels = batch
        feats = self.features(images)  # (B, F)
        if dataloader_idx == 0:
            self._bank.append((F.normalize(feats, dim=1), labels))
            return
        if self._bank_all is None:  # loader 0 has finished on every process: gather the bank once
            if not self._bank:
                raise ConfigError("the kNN monitor needs a bank: validation loader 0 (labelled training images) was empty")
            feats_bank, labels_bank = (torch.cat(t) for t in zip(*self._bank))
            self._bank_all = gather_uneven(feats_bank), gather_uneven(labels_bank)  # shards may differ by one
        linear, knn = (self.val_linear, self.val_knn) if stage == "val" else (self.test_linear, self.test_knn)
        linear(self.probe(feats), labels)
        knn(knn_scores(feats, *self._bank_all, self.hparams.num_classes, self.hparams.knn_k,
                       self.hparams.knn_temperature), labels)
        self.log(f"{stage}/linear_acc", linear, prog_bar=True, add_dataloader_idx=False)
        self.log(f"{stage}/knn_acc", knn, prog_bar=True, add_dataloader_idx=False)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, dataloader_idx, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0) -> None:
        self._eval_step(batch, dataloader_idx, "test")

    # --- optimisation ----------------------------------------------------------------------------
    def optimizer_groups(self) -> list[dict]:
        """Weights (decayed, LARS-adapted), biases and norms (neither), and the online probe with
        its own learning rate: it is evaluation only and must keep up from the first step."""
        probe = set(self.probe.parameters())
        groups = param_groups((p for p in self.parameters() if p not in probe), self.hparams.weight_decay)
        return [*groups, {"params": list(probe), "weight_decay": 0.0, "lars": False, "lr": self.hparams.probe_lr}]
