"""One image, two labels: the dominant object's class and its box (the multi-task family), ShapesWorld.

Batch contract: ``(images, labels, boxes)``, images float ``(B, 3, H, W)`` normalised, labels int64
``(B,)``, boxes float ``(B, 4)``: the labelled object's visible extent as ``x0, y0, x1, y1`` in
fractions of the image side.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset, TensorDataset

from datamodules.base import SHAPES_STATS, FamilyDataModule
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.store import render_columns
from datamodules.shapes.views import ShapesClassification


class ShapesClassBox(ShapesClassification):
    """``ShapesClassification`` with the labelled object's box: ``(image, label, box)``."""

    def __getitem__(self, index: int) -> tuple:
        image, label = super().__getitem__(index)
        mask = self.object_mask(index)  # (H, W) bool: what the image shows of the object
        ys, xs = torch.nonzero(mask, as_tuple=True)
        side = mask.shape[0]
        box = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32) / side
        return image, label, box


class _Collate:
    def __init__(self) -> None:
        mean, std = SHAPES_STATS
        self.mean = torch.tensor(mean).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std).view(1, -1, 1, 1) * 255

    def __call__(self, samples: list[tuple]) -> tuple:
        images, labels, boxes = zip(*samples, strict=True)
        images = (torch.stack(images).float() - self.mean) / self.std  # (B, 3, H, W)
        return images, torch.tensor([int(v) for v in labels], dtype=torch.long), torch.stack(boxes)


class MultiTaskDataModule(FamilyDataModule):
    """ShapesWorld scenes with a class and a box per image.

    Args:
        source: "shapes" only.
        root: unused (the family's signature).
        image_size: network input side (the world renders at it).
        batch_size: per-process batch size.
        eval_batch_size: per-process batch size for val/test (defaults to ``batch_size``).
        num_workers: loader processes; -1: none for ShapesWorld (in memory).
        world: ShapesWorld settings.
        train_size: training samples.
        val_size: validation samples.
    """

    shapes_description: ClassVar[str] = "ShapesWorld class + box"

    def __init__(self, source: str = "shapes", root: str | None = None, image_size: int = 64, batch_size: int = 64,
                 eval_batch_size: int | None = None, num_workers: int = -1,
                 world: WorldConfig = WorldConfig(),  # noqa: B008
                 train_size: PositiveInt = 8000, val_size: PositiveInt = 1000) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size)
        self.num_classes = len(self.world.kinds)

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        view = ShapesClassBox("train" if train else "val", h.train_size if train else h.val_size, self.world)
        images, labels, boxes = render_columns(view)
        return TensorDataset(images, torch.tensor(labels, dtype=torch.long), boxes)

    def collate_fn(self, ds: Dataset, train: bool) -> _Collate:
        return _Collate()
