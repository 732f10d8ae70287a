"""Localisation (one object, one box per image): the detection data reduced to its dominant object.

Batch contract: the detection family's (``datamodules.detection``), ``(images, targets)`` with
images ``list[Tensor (3, H, W)]`` float in ``[0, 1]``, but every target holds exactly one object:
``boxes`` float32 ``(1, 4)`` xyxy pixels and ``labels`` int64 ``(1,)`` in ``1..K``, the image's
largest box that the metric does not ignore (ImageNet localisation's setting, OverFeat's task).
Any detection source works (ShapesWorld, VOC, COCO); images without an object are dropped from
the batch, counted in ``dropped``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from datamodules.detection import DetectionDataModule, collate


def dominant(target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """The target reduced to its largest non-ignored box (None when it has none)."""
    boxes, labels = target["boxes"], target["labels"]
    keep = target["iscrowd"] == 0 if "iscrowd" in target else torch.ones(len(boxes), dtype=torch.bool)
    if not keep.any():
        return None
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    i = int(torch.where(keep, area, area.new_tensor(-1.0)).argmax())
    return {"boxes": boxes[i : i + 1], "labels": labels[i : i + 1]}


class _Dominant:
    """Collate: the detection lists, each target reduced to its dominant object."""

    def __init__(self) -> None:
        self.dropped = 0

    def __call__(self, samples: list) -> tuple[list[torch.Tensor], list[dict]]:
        images, targets = collate(samples)
        kept = [(i, d) for i, t in zip(images, targets) if (d := dominant(t)) is not None]
        self.dropped += len(images) - len(kept)
        return [i for i, _ in kept], [d for _, d in kept]


class LocalisationDataModule(DetectionDataModule):
    """``DetectionDataModule`` (same arguments) whose targets keep only the largest object."""

    def collate_fn(self, ds: Dataset, train: bool) -> Callable[[list], Any]:
        return _Dominant()
