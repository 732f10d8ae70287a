"""RoI feature pooling: RoIAlign (Mask R-CNN) or RoIPool (Fast/Faster R-CNN), multi-scale aware.

``MultiScaleRoIPool`` is torchvision's ``MultiScaleRoIAlign`` (same level assignment, same
scales) with the quantising ``torchvision.ops.roi_pool`` in place of ``roi_align``: the
Mask R-CNN paper's Table 2c ablation is this one switch. On small CPU maps at test time the pool
is ``roi_pool_cpu``'s tabulated op (the same numbers, several times faster there).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.poolers import _convert_to_roi_format, _filter_input, _setup_scales

from lit_modules.ops.roi_pool_cpu import roi_pool


class MultiScaleRoIPool(MultiScaleRoIAlign):
    """RoIPool over one or several feature maps (FPN level chosen by box size, as RoIAlign's).

    Args:
        featmap_names: feature maps to pool from.
        output_size: pooled side (7 for box heads, 14 for mask heads).
    """

    def __init__(self, featmap_names: list[str], output_size: int) -> None:
        super().__init__(featmap_names, output_size, sampling_ratio=0)

    def forward(self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]) -> Tensor:
        feats = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(feats, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        rois = _convert_to_roi_format(boxes)  # (R, 5): batch index, x0, y0, x1, y1
        if len(feats) == 1:
            return roi_pool(feats[0], rois, self.output_size, self.scales[0])
        levels = self.map_levels(boxes)
        out = feats[0].new_zeros((len(rois), feats[0].shape[1], *self.output_size))  # (R, C, s, s)
        for level, (feat, scale) in enumerate(zip(feats, self.scales)):
            idx = torch.where(levels == level)[0]
            out[idx] = roi_pool(feat, rois[idx], self.output_size, scale).to(out.dtype)
        return out


def roi_pooler(op: Literal["align", "pool"], featmap_names: list[str], output_size: int) -> MultiScaleRoIAlign:
    """The box/mask head's pooler: ``align`` (bilinear, sampling ratio 2) or ``pool`` (quantised)."""
    if op == "align":
        return MultiScaleRoIAlign(featmap_names, output_size, sampling_ratio=2)
    return MultiScaleRoIPool(featmap_names, output_size)
