"""YOLO target encoding and prediction decoding (v1 grid and v3-style anchors); NMS from torchvision.

Conventions: boxes are xyxy pixels, labels 1..C (0 = background, never encoded).

v1 target ``(S, S, 5 + C)`` per image: ``x, y`` the box centre's offset inside its cell in
[0, 1), ``sqrt(w / W), sqrt(h / H)``, ``obj`` (1 in the cell holding the centre), one-hot
class. A cell holds one object (v1's limit): when centres collide, the larger box is kept.

Anchor target, per scale, ``(A, H_s, W_s, 6)``: ``x, y`` offsets in the cell, ``log(w / a_w),
log(h / a_h)``, ``obj`` (1 positive, 0 negative, -1 ignored) and the class index 0..C-1. Each
box goes to the anchor (over all scales) whose shape overlaps it best, at the cell holding its
centre; other anchors there whose shape IoU exceeds ``ignore_iou`` are ignored by the
objectness loss (v3's rule, applied to anchor shapes).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import batched_nms


def encode_v1(boxes: Tensor, labels: Tensor, grid: int, num_classes: int, size: tuple[int, int]) -> Tensor:
    """One image's targets ``(S, S, 5 + C)``; ``size`` is ``(H, W)``."""
    h, w = size
    t = boxes.new_zeros(grid, grid, 5 + num_classes)
    order = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).argsort(descending=True)
    for k in order.tolist():
        x0, y0, x1, y1 = boxes[k].tolist()
        gx, gy = (x0 + x1) / 2 / w * grid, (y0 + y1) / 2 / h * grid
        j, i = min(int(gx), grid - 1), min(int(gy), grid - 1)
        if t[i, j, 4] > 0:  # the cell is taken by a larger object
            continue
        t[i, j, :5] = torch.tensor([gx - j, gy - i, ((x1 - x0) / w) ** 0.5, ((y1 - y0) / h) ** 0.5, 1.0])
        t[i, j, 5 + int(labels[k]) - 1] = 1.0
    return t


def v1_boxes(p: Tensor, size: tuple[int, int]) -> Tensor:
    """``(..., S, S, 4)`` of ``x, y, sqrt w, sqrt h`` -> xyxy pixels (same leading shape)."""
    grid = p.shape[-2]
    h, w = size
    j = torch.arange(grid, device=p.device, dtype=p.dtype).view(1, grid)  # column index
    i = torch.arange(grid, device=p.device, dtype=p.dtype).view(grid, 1)  # row index
    cx, cy = (p[..., 0] + j) / grid * w, (p[..., 1] + i) / grid * h
    bw, bh = p[..., 2] ** 2 * w, p[..., 3] ** 2 * h
    return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)


def decode_v1(out: Tensor, boxes_per_cell: int, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """``(B, S, S, nb*5 + C)`` -> boxes ``(B, S*S*nb, 4)`` xyxy and class scores ``(B, S*S*nb, C)``.

    A box's class score is its confidence times the cell's class probability (paper eq. 1).
    """
    b, s = out.shape[:2]
    nb = boxes_per_cell
    pb = out[..., : nb * 5].reshape(b, s, s, nb, 5).permute(0, 3, 1, 2, 4)  # (B, nb, S, S, 5)
    boxes = v1_boxes(pb[..., :4], size)  # (B, nb, S, S, 4)
    scores = pb[..., 4:5] * out[..., nb * 5:].unsqueeze(1)  # (B, nb, S, S, C)
    return boxes.reshape(b, -1, 4), scores.reshape(b, -1, scores.shape[-1])


def shape_iou(wh1: Tensor, wh2: Tensor) -> Tensor:
    """IoU of boxes sharing a centre, from widths/heights ``(N, 2)`` x ``(M, 2)`` -> ``(N, M)``."""
    inter = torch.min(wh1[:, None], wh2[None]).prod(-1)
    return inter / (wh1.prod(-1)[:, None] + wh2.prod(-1)[None] - inter)


def encode_anchors(boxes: Tensor, labels: Tensor, anchors: Tensor, strides: list[int],
                   size: tuple[int, int], ignore_iou: float = 0.5) -> list[Tensor]:
    """One image's targets, one ``(A, H_s, W_s, 6)`` per scale; ``anchors`` is ``(scales, A, 2)`` pixels."""
    h, w = size
    ns, na = anchors.shape[:2]
    targets = [boxes.new_zeros(na, h // s, w // s, 6) for s in strides]
    if len(boxes) == 0:
        return targets
    wh = boxes[:, 2:] - boxes[:, :2]  # (N, 2)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    ious = shape_iou(wh, anchors.reshape(-1, 2)).view(len(boxes), ns, na)  # (N, scales, A)
    best = ious.view(len(boxes), -1).argmax(1)
    for k in range(len(boxes)):
        for s, stride in enumerate(strides):
            gx, gy = (centre[k] / stride).tolist()
            j, i = min(int(gx), w // stride - 1), min(int(gy), h // stride - 1)
            t = targets[s]
            for a in range(na):
                if s * na + a == int(best[k]):
                    t[a, i, j] = torch.cat([torch.tensor([gx - j, gy - i], dtype=t.dtype),
                                            (wh[k] / anchors[s, a]).log(),
                                            torch.tensor([1.0, float(labels[k] - 1)], dtype=t.dtype)])
                elif ious[k, s, a] > ignore_iou and t[a, i, j, 4] == 0:
                    t[a, i, j, 4] = -1.0
    return targets


def decode_anchors(outs: list[Tensor], anchors: Tensor, strides: list[int]) -> tuple[Tensor, Tensor]:
    """Raw maps ``[(B, A, H_s, W_s, 5 + C)]`` -> boxes ``(B, N, 4)`` xyxy and class scores ``(B, N, C)``."""
    all_boxes, all_scores = [], []
    for out, anc, stride in zip(outs, anchors, strides):
        b, na, h, w, _ = out.shape
        j = torch.arange(w, device=out.device, dtype=out.dtype).view(1, 1, 1, w)
        i = torch.arange(h, device=out.device, dtype=out.dtype).view(1, 1, h, 1)
        cx = (out[..., 0].sigmoid() + j) * stride
        cy = (out[..., 1].sigmoid() + i) * stride
        anc = anc.to(out).view(1, na, 1, 1, 2)
        wh = anc * out[..., 2:4].clamp(max=6).exp()  # clamp: exp of an untrained logit can overflow
        boxes = torch.stack([cx - wh[..., 0] / 2, cy - wh[..., 1] / 2, cx + wh[..., 0] / 2, cy + wh[..., 1] / 2], -1)
        scores = out[..., 4:5].sigmoid() * out[..., 5:].sigmoid()  # (B, A, H, W, C)
        all_boxes.append(boxes.reshape(b, -1, 4))
        all_scores.append(scores.reshape(b, -1, scores.shape[-1]))
    return torch.cat(all_boxes, 1), torch.cat(all_scores, 1)


def postprocess(boxes: Tensor, scores: Tensor, size: tuple[int, int], score_thresh: float = 0.01,
                iou_thresh: float = 0.5, max_det: int = 100, pre_nms: int = 1000) -> dict[str, Tensor]:
    """One image: boxes ``(N, 4)``, class scores ``(N, C)`` -> per-class NMS'd detections.

    Every (box, class) pair above ``score_thresh`` is a candidate (the paper's class-specific
    scores), the best ``pre_nms`` go through ``torchvision.ops.batched_nms`` per class.
    Returns ``boxes (D, 4)`` clipped to the image, ``scores (D,)``, ``labels (D,)`` in 1..C.
    """
    h, w = size
    flat = scores.flatten()
    keep = (flat > score_thresh).nonzero().squeeze(1)
    keep = keep[flat[keep].topk(min(pre_nms, len(keep))).indices]
    box_idx, cls = keep // scores.shape[1], keep % scores.shape[1]
    b = boxes[box_idx].clone()
    b[:, 0::2] = b[:, 0::2].clamp(0, w)
    b[:, 1::2] = b[:, 1::2].clamp(0, h)
    s = flat[keep]
    kept = batched_nms(b, s, cls, iou_thresh)[:max_det]
    return {"boxes": b[kept], "scores": s[kept], "labels": cls[kept] + 1}
