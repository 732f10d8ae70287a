"""Trivial score for video classification: the majority class of the validation clips."""

from __future__ import annotations

import lightning as L
import torch

from contracts.hooks import hook
from experiments.baselines.classification import majority_class

OVERRIDES: list[str] = []


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """Chance (the most frequent class of the val split), as ``val/acc1``."""
    dm.setup("validate")
    labels = torch.cat([y for _, y in dm.val_dataloader()])
    return {"majority_class": {"val/acc1": majority_class(labels, int(hook(dm, "num_classes")))}}
