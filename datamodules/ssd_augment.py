"""SSD's training augmentation (Liu et al. 2016, Sec. 2.2 and 3.6) from torchvision transforms v2.

Photometric distortion, zoom-out onto a canvas up to 4x the image filled with the mean colour,
then a random crop whose IoU with some box is at least one of {0.1, 0.3, 0.5, 0.7, 0.9} (or the
whole image), and a horizontal flip; objects whose box leaves the crop are dropped, with every
per-object field of the target. albumentations has no min-IoU crop, torchvision has all four.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from datamodules.transforms import IMAGENET_MEAN


class SSDAugment:
    """``(image uint8 (3, H, W), target)`` -> the same, SSD-augmented; boxes, masks and flags follow."""

    def __init__(self, fill: tuple[float, float, float] = IMAGENET_MEAN) -> None:
        self.fill = [round(255 * c) for c in fill]
        self.photometric = v2.RandomPhotometricDistort(p=0.5)
        self.geometric = v2.Compose([
            v2.RandomZoomOut(fill={tv_tensors.Image: self.fill, "others": 0}, side_range=(1.0, 4.0), p=0.5),
            v2.RandomIoUCrop(),
            v2.RandomHorizontalFlip(0.5),
            v2.SanitizeBoundingBoxes(labels_getter=lambda inputs: inputs[1]["index"]),
        ])

    def __call__(self, image: torch.Tensor, target: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        n = len(target["boxes"])
        image = self.photometric(tv_tensors.Image(image))
        if n == 0:  # the min-IoU crop needs a box to measure against
            return image.as_subclass(torch.Tensor), target
        t: dict[str, Any] = {"boxes": tv_tensors.BoundingBoxes(target["boxes"], format="XYXY",
                                                               canvas_size=tuple(image.shape[-2:])),
                             "index": torch.arange(n)}
        if "masks" in target:
            t["masks"] = tv_tensors.Mask(target["masks"])
        image, t = self.geometric(image, t)
        keep = t["index"]
        out = {k: v[keep] if isinstance(v, torch.Tensor) and v.ndim and len(v) == n else v for k, v in target.items()}
        out["boxes"] = t["boxes"].as_subclass(torch.Tensor)
        if "masks" in t:
            out["masks"] = t["masks"].as_subclass(torch.Tensor)
        return image.as_subclass(torch.Tensor), out
