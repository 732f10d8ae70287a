"""Trivial segmenters: what they score on a config's data.

"background": every pixel the majority class 0. "pixel_linear": a linear classifier on each
pixel's own normalised RGB (a 1x1 conv, trained with Adam on the training split): it sees colour
but no shape, so on ShapesWorld, where colours are drawn independently of the class, it can find
objects but not tell their kinds apart. Same metrics as ``SegmentationModule`` (torchmetrics, macro).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import lightning as L
import torch
import torch.nn.functional as F

from contracts.hooks import hook

# The family's own metric collection (lit_modules.segmentation), so the floor is measured alike.
from lit_modules.segmentation import seg_metrics

OVERRIDES: list[str] = []


def _score(predict: Callable[[torch.Tensor], torch.Tensor], batches: Iterable,
           num_classes: int) -> dict[str, float]:
    m = seg_metrics(num_classes, "val/")
    for images, masks in batches:
        m.update(predict(images), masks)
    return {k: round(float(v), 4) for k, v in m.compute().items()}


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule,
                   steps: int = 300) -> dict[str, dict[str, float]]:
    """All-background and a per-pixel linear model (``steps`` Adam steps) on the config's data."""
    torch.manual_seed(0)
    dm.setup("fit")
    n = int(hook(dm, "num_classes"))
    val = list(dm.val_dataloader())
    out = {"all_background": _score(lambda x: torch.zeros(x.shape[0], *x.shape[2:], dtype=torch.long), val, n)}
    linear = torch.nn.Conv2d(3, n, 1)
    opt = torch.optim.Adam(linear.parameters(), 1e-2)
    step = 0
    while step < steps:
        for images, masks in dm.train_dataloader():
            loss = F.cross_entropy(linear(images), masks, ignore_index=255)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step >= steps:
                break
    with torch.no_grad():
        out["pixel_linear"] = _score(lambda x: linear(x).argmax(1), val, n)
    return out
