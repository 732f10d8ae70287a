"""Trivial localisers: the majority class, and a centred box of the median size, on a config's val data.

For ``datamodules.localisation`` (one object per image): ``val/acc1`` of always answering the most
frequent class, and ``val/iou`` of one box centred in the image with the median width and height
of the validation objects (and of the whole image). A localisation demo's numbers mean something
only next to these.
"""

from __future__ import annotations

import lightning as L
import torch
from torchvision.ops import box_iou

from contracts.hooks import hook

OVERRIDES: list[str] = []


def centred_box_iou(boxes: torch.Tensor, sizes: torch.Tensor, wh: tuple[float, float] | None) -> float:
    """Mean IoU of ``boxes`` (N, 4) with a box of size ``wh`` (whole image: None) centred in each image (N, 2: w, h)."""
    bw, bh = (sizes[:, 0], sizes[:, 1]) if wh is None else (torch.full_like(sizes[:, 0], wh[0]),
                                                            torch.full_like(sizes[:, 1], wh[1]))
    cx, cy = sizes[:, 0] / 2, sizes[:, 1] / 2
    guess = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    return float(box_iou(guess, boxes).diagonal().mean())


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """Majority class (``val/acc1``) and centred median / full-image boxes (``val/iou``)."""
    dm.setup("validate")
    n = int(hook(dm, "num_classes"))
    boxes, labels, sizes = [], [], []
    for images, targets in dm.val_dataloader():
        boxes += [t["boxes"] for t in targets]
        labels += [t["labels"] for t in targets]
        sizes += [torch.tensor([float(i.shape[-1]), float(i.shape[-2])]) for i in images]
    b, y, s = torch.cat(boxes), torch.cat(labels), torch.stack(sizes)
    median = tuple((b[:, 2:] - b[:, :2]).median(0).values.tolist())
    majority = torch.bincount(y, minlength=n + 1).max().item() / len(y)
    return {"majority_class": {"val/acc1": majority},
            "centred_median_box": {"val/iou": centred_box_iou(b, s, median)},
            "full_image_box": {"val/iou": centred_box_iou(b, s, None)}}
