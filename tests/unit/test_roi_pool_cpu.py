"""lit_modules.ops.roi_pool_cpu: the tabulated RoIPool gives torchvision's roi_pool, value for value."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_pool as tv_roi_pool

from lit_modules.ops.roi import MultiScaleRoIPool
from lit_modules.ops.roi_pool_cpu import MAX_TABLE, fits, roi_pool, roi_pool_table


def _rois(g: torch.Generator, n: int, batch: int, side: float) -> torch.Tensor:
    xy = torch.rand(n, 2, generator=g) * side * 1.2 - 0.1 * side  # some corners off the image
    wh = torch.rand(n, 2, generator=g) * side * 0.7
    b = torch.randint(0, batch, (n, 1), generator=g).float()
    return torch.cat([b, xy, xy + wh], 1)


@pytest.mark.parametrize(("shape", "pool", "scale"), [((1, 64, 12, 12), 7, 1 / 8), ((3, 5, 9, 13), 7, 1 / 8),
                                                      ((2, 4, 6, 5), (3, 4), 0.3), ((1, 3, 1, 1), 2, 1.0)])
def test_equals_torchvision_on_random_maps_and_boxes(shape, pool, scale):
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(*shape, generator=g)
    side = shape[-1] / scale
    rois = _rois(g, 300, shape[0], side)
    assert torch.equal(roi_pool_table(feat, rois, pool, scale), tv_roi_pool(feat, rois, pool, scale))


def test_equals_torchvision_at_borders_tiny_degenerate_and_half_cell_boxes():
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(2, 3, 12, 12, generator=g)
    rois = torch.tensor([
        [0, 0, 0, 95, 95],          # the whole image
        [1, 0, 0, 0, 0],            # a point at the corner
        [0, 95, 95, 95, 95],        # a point at the far corner
        [1, 40, 40, 30, 30],        # x1 < x0: forced to one cell
        [0, -50, -50, -10, -10],    # outside, before the map: empty bins -> 0
        [1, 200, 10, 300, 50],      # outside, past the map
        [0, 4, 4, 12, 12],          # corners on half a cell (4 / 8 = 0.5, 12 / 8 = 1.5): round half away
        [1, 3.99, 4.0, 11.99, 12.0],
        [0, 90, 0, 200, 95],        # over the far border
        [1, 10, 20, 11, 21],        # inside one cell
    ], dtype=torch.float32)
    got, want = roi_pool_table(feat, rois, 7, 1 / 8), tv_roi_pool(feat, rois, 7, 1 / 8)
    assert torch.equal(got, want)
    assert (got[4] == 0).all() and (got[5] == 0).all()  # the kernel's empty bins
    assert roi_pool_table(feat, rois[:0], 7, 1 / 8).shape == (0, 3, 7, 7)


def test_batch_index_picks_the_image_and_extremes_match_the_kernels_initial_max():
    feat = torch.zeros(2, 1, 4, 4)
    feat[1] = 5.0
    feat[0, 0, 0, 0] = float("-inf")
    rois = torch.tensor([[0, 0, 0, 31, 31], [1, 0, 0, 31, 31], [0, 0, 0, 0, 0]], dtype=torch.float32)
    got = roi_pool_table(feat, rois, 2, 1 / 8)
    assert torch.equal(got, tv_roi_pool(feat, rois, 2, 1 / 8))
    assert (got[1] == 5).all() and got[2].min() == torch.finfo(torch.float32).min  # -inf alone -> -FLT_MAX


def test_dispatch_keeps_torchvision_for_autograd_and_large_maps_and_pooler_uses_it():
    feat = torch.randn(1, 8, 12, 12, requires_grad=True)
    rois = torch.tensor([[0, 8.0, 8.0, 60.0, 50.0]])
    out = roi_pool(feat, rois, 7, 1 / 8)
    out.sum().backward()  # torchvision's op: it has a backward
    assert feat.grad is not None and feat.grad.sum() > 0
    assert fits(feat) and not fits(torch.zeros(1, 1, 1, MAX_TABLE + 1))
    pooler = MultiScaleRoIPool(["0"], 7)
    with torch.no_grad():
        pooled = pooler({"0": feat.detach()}, [rois[:, 1:]], [(96, 96)])
    assert torch.equal(pooled, tv_roi_pool(feat.detach(), rois, 7, 1 / 8))


def test_the_side_by_side_bench_times_both_ops_on_the_same_inputs():
    from experiments.bench.roi_pool_speed import measure, random_inputs

    r = measure(random_inputs(20), repeats=1)
    assert r["rois"] == 20 and r["torchvision"] > 0 and r["table"] > 0 and r["speedup"] > 0
