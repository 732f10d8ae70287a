"""Median-frequency class balancing (Eigen & Fergus 2015), the class weights SegNet trains with."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor


def median_frequency_weights(masks: Iterable[Tensor], num_classes: int, ignore_index: int = 255) -> Tensor:
    """Cross-entropy class weights ``median(freq) / freq(c)``.

    ``freq(c)`` is the pixels of class c over the pixels of the images in which c is present (SegNet,
    section 4: "the ratio of the median of class frequencies computed on the entire training set
    divided by the class frequency"), so classes rarer than the median weigh more than 1 and the
    dominant background less. A class absent from every mask gets weight 1.

    Args:
        masks: int64 masks (B, H, W) or (H, W), 0..num_classes-1 and ``ignore_index``.

    Returns:
        (num_classes,) float32 weights.
    """
    pixels = torch.zeros(num_classes, dtype=torch.float64)
    present_in = torch.zeros(num_classes, dtype=torch.float64)  # valid pixels of the images containing c
    for m in masks:
        m = m.reshape(-1, m.shape[-2] * m.shape[-1]) if m.dim() > 1 else m[None]
        valid = m != ignore_index
        counts = torch.stack([((m == c) & valid).sum(1) for c in range(num_classes)], 1).double()  # (B, C)
        pixels += counts.sum(0)
        present_in += ((counts > 0).double() * valid.sum(1, keepdim=True).double()).sum(0)
    seen = pixels > 0
    weights = torch.ones(num_classes, dtype=torch.float64)
    if seen.any():
        freq = pixels[seen] / present_in[seen]
        weights[seen] = freq.median() / freq
    return weights.float()
