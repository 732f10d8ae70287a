"""Localisation as regression (OverFeat, Sermanet 2014, Sec. 5): classification + box regression.

L = L_cls + λ · L_box, a pure function of the net's two outputs and the true class and box.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

BoxLoss = Literal["l2", "smooth_l1"]


def pick_box(boxes: Tensor, labels: Tensor) -> Tensor:
    """``(B, 4)`` class-agnostic boxes as they are; ``(B, K, 4)`` per-class boxes: the row of ``labels`` (B,)."""
    return boxes if boxes.dim() == 2 else boxes[torch.arange(len(boxes)), labels]


def localisation_loss(logits: Tensor, boxes: Tensor, labels: Tensor, true_boxes: Tensor, lam: float = 1.0,
                      kind: BoxLoss = "l2") -> dict[str, Tensor]:
    """``{"cls": cross-entropy, "box": λ · box loss}``, both means over the batch.

    Args:
        logits: ``(B, K)`` class scores.
        boxes: predicted boxes in image-normalised xyxy, ``(B, 4)`` or per class ``(B, K, 4)``
            (per-class regression, OverFeat's PCR: only the true class's box is trained).
        labels: ``(B,)`` int64 in ``0..K-1``.
        true_boxes: ``(B, 4)`` image-normalised xyxy.
        lam: λ, the box term's weight.
        kind: "l2" (OverFeat's regressor loss: squared error summed over the 4 coordinates) or "smooth_l1".
    """
    pred = pick_box(boxes, labels)  # (B, 4)
    if kind == "l2":
        box = (pred - true_boxes).pow(2).sum(1).mean()
    else:
        box = F.smooth_l1_loss(pred, true_boxes, beta=1 / 9, reduction="none").sum(1).mean()
    return {"cls": F.cross_entropy(logits, labels), "box": lam * box}
