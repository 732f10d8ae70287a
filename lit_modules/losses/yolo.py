"""YOLO losses: v1's sum-squared error (Redmon 2016, eq. 3) and a v3-style anchor loss.

Both are pure functions of the network output and the encoded targets
(``lit_modules.ops.yolo``), summed over the batch and divided by the batch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _iou_xywh(a: Tensor, b: Tensor) -> Tensor:
    """Element-wise IoU of ``(..., 4)`` boxes given as centre x, y, width, height."""
    a0, a1 = a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2
    b0, b1 = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
    inter = (torch.min(a1, b1) - torch.max(a0, b0)).clamp(min=0).prod(-1)
    return inter / (a[..., 2:].prod(-1) + b[..., 2:].prod(-1) - inter).clamp(min=1e-9)


def yolo_v1_loss(out: Tensor, target: Tensor, boxes_per_cell: int = 2, lambda_coord: float = 5.0,
                 lambda_noobj: float = 0.5) -> dict[str, Tensor]:
    """The v1 loss, split in its four terms.

    Args:
        out: ``(B, S, S, nb*5 + C)`` in [0, 1]: per box ``x, y, sqrt w, sqrt h, confidence``,
            then C class probabilities.
        target: ``(B, S, S, 5 + C)`` from ``encode_v1``.
        boxes_per_cell: nb.
        lambda_coord: weight of the coordinate terms (paper: 5).
        lambda_noobj: weight of the confidence of boxes without objects (paper: 0.5).

    In a cell with an object, the predictor whose box has the highest IoU with it is
    "responsible": it gets the coordinate loss and a confidence target equal to that IoU; every
    other predictor gets confidence target 0 with weight ``lambda_noobj``. Class probabilities
    are penalised only in cells with an object. Returns ``coord, conf_obj, conf_noobj, cls``.
    """
    b, s = out.shape[:2]
    nb = boxes_per_cell
    pb = out[..., : nb * 5].reshape(b, s, s, nb, 5)  # (B, S, S, nb, 5)
    obj = target[..., 4]  # (B, S, S)
    cell = torch.arange(s, device=out.device, dtype=out.dtype)
    offset = torch.stack(torch.meshgrid(cell, cell, indexing="xy"), -1)  # (S, S, 2): (col, row)

    def xywh(p: Tensor) -> Tensor:  # cell offsets + sqrt sizes -> image-normalised centre/size
        grid_off = offset.view(s, s, *([1] * (p.ndim - 4)), 2)
        return torch.cat([(p[..., :2] + grid_off) / s, p[..., 2:4] ** 2], -1)

    with torch.no_grad():
        iou = _iou_xywh(xywh(pb[..., :4]), xywh(target[..., None, :4]))  # (B, S, S, nb)
        resp = F.one_hot(iou.argmax(-1), nb).to(out.dtype) * obj[..., None]  # (B, S, S, nb)
    coord = (resp[..., None] * (pb[..., :4] - target[..., None, :4]) ** 2).sum()
    conf_obj = (resp * (pb[..., 4] - iou) ** 2).sum()
    conf_noobj = ((1 - resp) * pb[..., 4] ** 2).sum()
    cls = (obj[..., None] * (out[..., nb * 5:] - target[..., 5:]) ** 2).sum()
    return {"coord": lambda_coord * coord / b, "conf_obj": conf_obj / b,
            "conf_noobj": lambda_noobj * conf_noobj / b, "cls": cls / b}


def yolo_anchor_loss(outs: list[Tensor], targets: list[Tensor], anchors: Tensor,
                     size: tuple[int, int], lambda_noobj: float = 1.0) -> dict[str, Tensor]:
    """v3-style loss over scales.

    Args:
        outs: raw maps ``[(B, A, H_s, W_s, 5 + C)]``.
        targets: ``[(B, A, H_s, W_s, 6)]`` from ``encode_anchors`` (stacked over the batch).
        anchors: ``(scales, A, 2)`` pixels.
        size: image ``(H, W)``.
        lambda_noobj: weight of the negatives' objectness.

    Positives: squared error on the sigmoid centre offsets and on the log size ratios,
    weighted by ``2 - w h / (W H)`` (v3's emphasis on small boxes), objectness BCE towards 1,
    per-class BCE (independent logistic classifiers). Negatives: objectness BCE towards 0;
    ignored anchors (obj = -1) get no loss. Returns ``box, obj, noobj, cls``.
    """
    b = outs[0].shape[0]
    zero = outs[0].sum() * 0
    box, pos_obj, neg_obj, cls = zero, zero, zero, zero
    area = float(size[0] * size[1])
    for out, t, anc in zip(outs, targets, anchors):
        pos, neg = t[..., 4] == 1, t[..., 4] == 0
        p, tp = out[pos], t[pos]  # (P, 5 + C), (P, 6)
        if len(p):
            a = anc.to(out).view(1, -1, 1, 1, 2).expand(*t.shape[:4], 2)[pos]  # (P, 2) anchor of each positive
            scale = 2 - (a * tp[:, 2:4].exp()).prod(-1) / area
            box = box + (scale[:, None] * ((p[:, :2].sigmoid() - tp[:, :2]) ** 2 + (p[:, 2:4] - tp[:, 2:4]) ** 2)).sum()
            pos_obj = pos_obj + F.binary_cross_entropy_with_logits(p[:, 4], torch.ones_like(p[:, 4]), reduction="sum")
            onehot = F.one_hot(tp[:, 5].long(), p.shape[1] - 5).to(p.dtype)
            cls = cls + F.binary_cross_entropy_with_logits(p[:, 5:], onehot, reduction="sum")
        n = out[..., 4][neg]
        neg_obj = neg_obj + F.binary_cross_entropy_with_logits(n, torch.zeros_like(n), reduction="sum")
    return {"box": box / b, "obj": pos_obj / b, "noobj": lambda_noobj * neg_obj / b, "cls": cls / b}
