"""DANN — "Unsupervised Domain Adaptation by Backpropagation" (Ganin & Lempitsky, ICML 2015).

The idea: train the label predictor on labelled source images while a domain classifier, fed
the same features through a gradient reversal layer, tries to tell source from target; the
reversed gradient pushes the features to be indistinguishable between domains, so the label
predictor learned on the source also works on the unlabelled target. The adaptation factor
lambda grows as ``2/(1+exp(-10 p)) - 1`` and the learning rate anneals as ``mu0/(1+10 p)^0.75``
(``schedule: dann``), p the training progress from 0 to 1. ``mode`` gives the paper's two
baselines with the same net and recipe: ``source_only`` (no domain loss) and
``target_oracle`` (trained on the target's labels: the ceiling).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.classification import MulticlassAccuracy

from lit_modules.classification import ClassificationModule
from lit_modules.nets.dann import Arch, alexnet_dann, conv_gap, small_cnn
from lit_modules.ops.grl import dann_lambda, grad_reverse

Mode = Literal["dann", "source_only", "target_oracle"]


class DANNModule(ClassificationModule):
    """DANN and its baselines on ``datamodules.domain_adaptation`` batches.

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s; the paper's
    recipe is SGD momentum 0.9 with ``schedule: dann``.

    Args:
        num_classes: classes shared by both domains.
        mode: "dann", "source_only" or "target_oracle".
        arch: "small_cnn" (the paper's MNIST net), "conv_gap" (a deeper 3x3 BatchNorm CNN with global
            average pooling, not the paper's) or "alexnet" (its Office net).
        image_size: input side (``small_cnn`` sizes its first linear layer from it).
        width: ``small_cnn`` / ``conv_gap`` first conv channels (32 = paper's small_cnn).
        batch_norm: ``small_cnn`` with BatchNorm after each conv (not in the paper; ``conv_gap`` always has it).
        domain_hidden: hidden widths of the domain classifier G_d (``small_cnn``, ``conv_gap``; paper: [100]
            on MNIST, [1024, 1024] on SVHN/Office).
        mixed_bn: ``source_only`` only: pass the unlabelled target batch through the features too, with no loss
            on it, so that BatchNorm normalises the same mixed source + target batch as in ``dann`` (and keeps
            mixed running statistics for evaluation). This separates what DANN gains from BatchNorm's target
            statistics (AdaBN-like, uses unlabelled target images) from what it gains from the domain loss.
        weights: ``alexnet``: torchvision ImageNet weights (``IMAGENET1K_V1`` or a local file).
        gamma: the lambda schedule's 10.
        domain_weight: factor on the domain loss (lambda scales its reversed gradient already).
    """

    primary_metric = "val/target_acc1"
    method_label = "DANN"

    def __init__(
        self,
        num_classes: int = 10,
        mode: Mode = "dann",
        arch: Arch = "small_cnn",
        image_size: int = 28,
        width: int = 32,
        batch_norm: bool = False,
        weights: str | None = None,
        gamma: float = 10.0,
        domain_weight: float = 1.0,
        domain_hidden: list[int] | None = None,
        mixed_bn: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        hidden = tuple(domain_hidden or (100,))
        if arch == "small_cnn":
            self.net = small_cnn(num_classes, image_size, width=width, batch_norm=batch_norm, domain_hidden=hidden)
        elif arch == "conv_gap":
            self.net = conv_gap(num_classes, width=width, domain_hidden=hidden)
        else:
            self.net = alexnet_dann(num_classes, weights)
        self.val_domain_acc = torch.nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in range(2))
        self.test_domain_acc = torch.nn.ModuleList(MulticlassAccuracy(num_classes, average="micro") for _ in range(2))

    @staticmethod
    def method_name(hparams: dict[str, Any]) -> str:
        return {"dann": "DANN", "source_only": "Source only", "target_oracle": "Target oracle"}[hparams.get("mode", "dann")]

    def progress(self) -> float:
        """Training progress p in [0, 1] (optimiser steps over the run's steps)."""
        total = max(1, int(self.trainer.estimated_stepping_batches))
        return min(1.0, self.global_step / total)

    def _features(self, images: Tensor) -> Tensor:
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net.features(images)

    def training_step(self, batch: tuple[Tensor, Tensor, Tensor, Tensor], batch_idx: int) -> Tensor:
        xs, ys, xt, yt = batch
        mode = self.hparams.mode
        if mode == "target_oracle":
            xs, ys = xt, yt  # the ceiling: supervised on the target
        parts: dict[str, Tensor | float] = {}
        if mode == "dann" or (mode == "source_only" and self.hparams.mixed_bn):
            feats = self._features(torch.cat([xs, xt]))  # (2B, F): one pass over both domains, BN sees both
            logits = self.net.classifier(feats[: len(xs)])  # (B, C): labels of the source only
            loss = F.cross_entropy(logits, ys, label_smoothing=self.hparams.label_smoothing)
            if mode == "dann":
                lambd = dann_lambda(self.progress(), self.hparams.gamma)
                dom_logits = self.net.domain(grad_reverse(feats, lambd))  # (2B,)
                domains = torch.cat([torch.zeros(len(xs)), torch.ones(len(xt))]).to(dom_logits)
                domain_loss = F.binary_cross_entropy_with_logits(dom_logits, domains)
                parts = {"train/class_loss": loss, "train/domain_loss": domain_loss, "train/lambda": lambd,
                         "train/domain_acc": ((dom_logits > 0).float() == domains).float().mean()}
                loss = loss + self.hparams.domain_weight * domain_loss
        else:
            loss, logits = self.training_loss(xs, ys)
        self.train_acc(logits, ys)
        self.log("train/loss", loss, prog_bar=True)
        if parts:
            self.log_dict(parts)
        self.log("train/acc1", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor, Tensor], stage: str) -> None:
        images, labels, domains = batch
        logits = self(images)
        metrics = self.val_domain_acc if stage == "val" else self.test_domain_acc
        for d, name in enumerate(("source", "target")):
            keep = domains == d
            if keep.any():
                metrics[d](logits[keep], labels[keep])
            self.log(f"{stage}/{name}_acc1", metrics[d], prog_bar=name == "target")
