"""Exact RoIPool for small feature maps on the CPU: the max of every short rectangle tabulated, then one gather.

``torchvision.ops.roi_pool``'s CPU kernel loops RoI -> bin -> channel -> cells, reading NCHW memory
with a stride of one channel plane. On the demos' 12x12 stride-8 map a RoI spans 2-6 cells, so its
49 bins overlap and the kernel rereads each cell many times: it was most of Fast R-CNN's head time
(150 RoIs), well above fc6/fc7's. Max is separable over a rectangle, and a bin of a side of ``n``
cells spans at most ``ceil(n / P) + 1`` of them, so this op tabulates, per image and channels
last, the max over every rectangle of at most ``Lh x Lw`` cells (the longest spans the bins use:
one running max per extra row, then per extra column), and reads each bin's max out of the table
with one index. The table costs ``C Lh H Lw W`` per image whatever the RoIs: the op serves small
CPU maps (``fits``), torchvision's kernel the rest.

The bins are the kernel's, computed in the same float32 arithmetic: box corners scaled and rounded
half away from zero (C's ``round``), malformed boxes forced to 1x1, bin ``i`` of a side of ``n``
cells = ``[floor(i n / P), ceil((i + 1) n / P))`` offset by the box's start and clipped to the map;
an empty bin gives 0, and a bin whose values are all below ``-FLT_MAX`` gives ``-FLT_MAX`` (the
kernel's initial max). Only NaN differs: it propagates here, the kernel skips it.
Forward only (no argmax for a backward pass): ``roi_pool`` below sends autograd to torchvision.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import roi_pool as tv_roi_pool
from torchvision.ops._utils import convert_boxes_to_roi_format

#: worst-case table elements (C x H^2 x W^2, every span) per image above which torchvision's kernel is used (32 MiB of float32).
MAX_TABLE = 1 << 23


def _round_half_away(x: Tensor) -> Tensor:
    """C's ``round`` (half away from zero), exactly: ``x - trunc(x)`` is exact in floating point."""
    t = torch.trunc(x)
    return t + torch.where((x - t).abs() >= 0.5, torch.sign(x), torch.zeros_like(x))


def _bins(start: Tensor, end: Tensor, pooled: int, size: int) -> tuple[Tensor, Tensor]:
    """Bin bounds ``[lo, hi)`` ``(R, pooled)`` along one side, as torchvision's CPU kernel computes them."""
    length = torch.clamp(end - start + 1, min=1).to(torch.float32)  # malformed boxes forced to 1 cell
    step = length / float(pooled)
    i = torch.arange(pooled, dtype=torch.float32, device=start.device)
    lo = torch.floor(i[None] * step[:, None]).long() + start[:, None]
    hi = torch.ceil((i[None] + 1) * step[:, None]).long() + start[:, None]
    return lo.clamp(0, size), hi.clamp(0, size)


def _span_max(x: Tensor, spans_h: int, spans_w: int) -> Tensor:
    """``(H, W, C)`` -> ``(Lh, H, Lw, W, C)``: ``[i, s, j, u]`` = max over rows s..s+i and columns u..u+j.

    Entries past the map's edge (``s + i >= H`` or ``u + j >= W``) hold junk and are never read.
    """
    h, w, c = x.shape
    rows = x.new_empty(spans_h, h, w, c)  # [i, s] = max over rows s..s+i: one running max per extra row
    rows[0] = x
    for i in range(1, spans_h):
        torch.maximum(rows[i - 1, :h - i], x[i:], out=rows[i, :h - i])
    table = x.new_empty(spans_h, h, spans_w, w, c)
    table[:, :, 0] = rows
    for j in range(1, spans_w):
        torch.maximum(table[:, :, j - 1, :w - j], rows[:, :, j:], out=table[:, :, j, :w - j])
    return table


def fits(feat: Tensor) -> bool:
    """Whether the tabulated op serves ``feat`` ``(N, C, H, W)``: a CPU float map with a small table."""
    _, c, h, w = feat.shape
    return feat.device.type == "cpu" and feat.is_floating_point() and c * h * h * w * w <= MAX_TABLE


def roi_pool_table(feat: Tensor, rois: Tensor, output_size: int | tuple[int, int], spatial_scale: float = 1.0) -> Tensor:
    """RoIPool of ``rois`` ``(R, 5)`` (batch index, x0, y0, x1, y1) over ``feat`` ``(N, C, H, W)`` -> ``(R, C, Ph, Pw)``.

    Equal to ``torchvision.ops.roi_pool(feat, rois, output_size, spatial_scale)`` (see the module doc).
    """
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else output_size
    n, c, h, w = feat.shape
    if len(rois) == 0:
        return feat.new_zeros(0, c, ph, pw)
    r = rois.to(torch.float32)
    corners = _round_half_away(r[:, 1:] * torch.tensor(spatial_scale, dtype=torch.float32)).long()  # x0 y0 x1 y1
    hs, he = _bins(corners[:, 1], corners[:, 3], ph, h)  # (R, ph)
    ws, we = _bins(corners[:, 0], corners[:, 2], pw, w)  # (R, pw)
    empty = (he <= hs)[:, :, None] | (we <= ws)[:, None, :]  # (R, ph, pw): the kernel's 0
    # a bin spans at most ceil(n / P) + 1 cells of a side of n: tabulate the spans the bins need, no longer ones
    lh, lw = int((he - hs).max().clamp(min=1)), int((we - ws).max().clamp(min=1))
    per_image = lh * h * lw * w
    table = feat.new_empty(n * per_image + 1, c)  # every image's rectangles, then one row of zeros
    table[-1] = 0
    x = feat.clamp_min(torch.finfo(feat.dtype).min).permute(0, 2, 3, 1)  # (N, H, W, C); -inf -> -FLT_MAX as the kernel
    for b in range(n):
        table[b * per_image:(b + 1) * per_image] = _span_max(x[b], lh, lw).view(-1, c)
    cell = (((he - hs).clamp(min=1) - 1) * h + hs.clamp(max=h - 1))[:, :, None] * (lw * w) + \
        (((we - ws).clamp(min=1) - 1) * w + ws.clamp(max=w - 1))[:, None, :]  # (R, ph, pw)
    cell = torch.where(empty, n * per_image, cell + r[:, 0].long()[:, None, None] * per_image)  # batch: the kernel's int cast
    return table.index_select(0, cell.flatten()).view(len(rois), ph, pw, c).permute(0, 3, 1, 2).contiguous()


def roi_pool(feat: Tensor, boxes: Tensor | list[Tensor], output_size: int | tuple[int, int],
             spatial_scale: float = 1.0) -> Tensor:
    """``torchvision.ops.roi_pool``, with the tabulated op where it is faster (small CPU maps, no autograd)."""
    rois = boxes if isinstance(boxes, Tensor) else convert_boxes_to_roi_format(boxes)
    if fits(feat) and not (torch.is_grad_enabled() and feat.requires_grad):
        return roi_pool_table(feat, rois, output_size, spatial_scale)
    return tv_roi_pool(feat, rois, output_size, spatial_scale)
