"""Trivial scores for self-supervised pre-training: what the linear probe reads without an encoder.

The SSL modules report an online linear probe on the labelled bank (``val/linear_acc``); its
floor is the majority class, and the same linear model on the raw pixels of the same bank.
"""

from __future__ import annotations

import lightning as L

from contracts.hooks import hook
from experiments.baselines.classification import pixel_scores

OVERRIDES: list[str] = []


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """Majority class and linear-on-pixels, trained on the bank loader, scored on the eval loader."""
    dm.setup("fit")
    bank, val = dm.val_dataloader()  # batch contract: [bank, evaluation split] of (images, labels)
    return pixel_scores(bank, val, int(hook(dm, "num_classes")), "val/linear_acc")
