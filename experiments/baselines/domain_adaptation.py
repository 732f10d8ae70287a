"""Trivial baselines for a domain pair: the target's majority class, and a linear model on the
source's pixels scored on both domains (what "source only" means without any features)."""

from __future__ import annotations

import lightning as L
import torch

from contracts.hooks import hook
from experiments.baselines.classification import linear_probe, majority_class

OVERRIDES: list[str] = []


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """``val/target_acc1`` (and ``val/source_acc1``) of the majority class and of a linear model on source pixels."""
    dm.setup("fit")
    xs, ys = zip(*((b[0].flatten(1), b[1]) for b in dm.train_dataloader()))
    xtr, ytr = torch.cat(xs), torch.cat(ys)
    xv, yv, dv = (torch.cat(t) for t in zip(*((b[0].flatten(1), b[1], b[2]) for b in dm.val_dataloader())))
    n = int(hook(dm, "num_classes"))
    out = {"majority_class": {"val/target_acc1": majority_class(yv[dv == 1], n)}, "linear_on_source_pixels": {}}
    for d, name in ((0, "source"), (1, "target")):
        out["linear_on_source_pixels"][f"val/{name}_acc1"] = linear_probe(xtr, ytr, xv[dv == d], yv[dv == d], n)
    return out
