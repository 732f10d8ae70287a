"""Region operations of R-CNN and Fast R-CNN: proposal labelling, window sampling, warping with context.

Pure tensor functions over ``torchvision.ops`` (``box_iou``, ``roi_align``); no lightning.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou, roi_align


def label_regions(regions: Tensor, gt_boxes: Tensor, gt_labels: Tensor, fg_iou: float) -> tuple[Tensor, Tensor, Tensor]:
    """Class of each region: the best-overlapping object's label when IoU >= ``fg_iou``, else 0 (background).

    Args:
        regions: ``(R, 4)`` xyxy. gt_boxes: ``(G, 4)`` xyxy. gt_labels: ``(G,)`` int64 in 1..K.

    Returns:
        labels ``(R,)`` int64, matched object index ``(R,)`` (0 when G == 0), best IoU ``(R,)``.
    """
    if len(gt_boxes) == 0:
        zeros = torch.zeros(len(regions), dtype=torch.int64, device=regions.device)
        return zeros, zeros, regions.new_zeros(len(regions))
    best, idx = box_iou(regions, gt_boxes).max(1)  # (R,)
    labels = torch.where(best >= fg_iou, gt_labels[idx], torch.zeros_like(idx))
    return labels, idx, best


def sample_windows(labels: Tensor, num_pos: int, num_neg: int, generator: torch.Generator | None = None) -> Tensor:
    """Indices of up to ``num_pos`` positive (label > 0) and ``num_pos + num_neg - positives`` background windows.

    R-CNN's fine-tuning batch: 32 positive windows (over all classes) and 96 background ones; when a
    batch holds fewer positives, background fills the batch (as torchvision's sampler does).
    """
    pos = torch.where(labels > 0)[0]
    neg = torch.where(labels == 0)[0]
    pos = pos[torch.randperm(len(pos), generator=generator, device=pos.device)[:num_pos]] if len(pos) else pos
    n_neg = min(num_pos + num_neg - len(pos), len(neg))
    neg = neg[torch.randperm(len(neg), generator=generator, device=neg.device)[:n_neg]]
    return torch.cat([pos, neg])


def with_context(boxes: Tensor, size: int, context: float) -> Tensor:
    """Boxes dilated about their centre so that, warped to ``size``, ``context`` pixels of surround show on each side.

    R-CNN (Appendix A, "warp with p = 16"): the box fills ``size - 2 * context`` of the warped window.
    """
    scale = size / (size - 2 * context)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) / 2 * scale
    return torch.cat([centre - half, centre + half], 1)


def warp_regions(images: list[Tensor], boxes: list[Tensor], size: int, context: float) -> Tensor:
    """Each box (plus context) of each image, anisotropically warped to ``(size, size)``.

    Args:
        images: normalised ``(3, H, W)`` images (zero = the mean: R-CNN fills outside the image with it).
        boxes: per image ``(R_i, 4)`` xyxy pixels.
        size: output side (R-CNN: 227). context: pixels of surround in the output (R-CNN: 16).

    Returns:
        ``(sum R_i, 3, size, size)``: bilinear warp (``roi_align``, aligned), in the order of ``boxes``.
    """
    out = []
    for image, b in zip(images, boxes):
        if len(b):
            rois = torch.cat([b.new_zeros(len(b), 1), with_context(b, size, context)], 1)  # (R, 5)
            out.append(roi_align(image[None], rois, (size, size), 1.0, sampling_ratio=2, aligned=True))
    if not out:
        return images[0].new_zeros((0, 3, size, size))
    return torch.cat(out)  # (R, 3, size, size)
