"""Trivial classifiers: the majority class, and a linear model on raw pixels.

A demo's accuracy means something only next to these: the gap is what the method adds. The
linear model is multinomial logistic regression, full-batch AdamW with weight decay on the
datamodule's own normalised, un-augmented images (``OVERRIDES``).
"""

from __future__ import annotations

from collections.abc import Iterable

import lightning as L
import torch
import torch.nn.functional as F

from contracts.hooks import hook

OVERRIDES = ["--data.init_args.augment", "none"]  # the datamodule's own normalisation, no augmentation


def arrays(loader: Iterable) -> tuple[torch.Tensor, torch.Tensor]:
    """All of a loader's ``(images, labels)`` batches as (N, D) flattened pixels and (N,) labels."""
    xs, ys = zip(*((x.flatten(1), y) for x, y in loader))
    return torch.cat(xs), torch.cat(ys)


def majority_class(labels: torch.Tensor, num_classes: int) -> float:
    """Accuracy of always answering the most frequent class of ``labels`` (chance, a little informed)."""
    return torch.bincount(labels, minlength=num_classes).max().item() / len(labels)


def linear_probe(xtr: torch.Tensor, ytr: torch.Tensor, xva: torch.Tensor, yva: torch.Tensor,
                 num_classes: int, steps: int = 300, lr: float = 1e-2, weight_decay: float = 1e-3) -> float:
    """Validation accuracy of a linear classifier fitted to (xtr, ytr); features (N, D)."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(layer(xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (layer(xva).argmax(1) == yva).float().mean().item()


def pixel_scores(train: Iterable, val: Iterable, num_classes: int, metric: str) -> dict[str, dict[str, float]]:
    """Majority class and linear-on-pixels scores from two loaders of ``(images, labels)``."""
    xtr, ytr = arrays(train)
    xva, yva = arrays(val)
    return {"majority_class": {metric: majority_class(yva, num_classes)},
            "linear_on_pixels": {metric: linear_probe(xtr, ytr, xva, yva, num_classes)}}


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """The two trivial classifiers on the config's train/val splits, as ``val/acc1``."""
    dm.setup("fit")
    return pixel_scores(dm.train_dataloader(), dm.val_dataloader(), int(hook(dm, "num_classes")), "val/acc1")
