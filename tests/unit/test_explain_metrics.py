"""experiments.explain.metrics and attributions on hand-made maps and a tiny net."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from datamodules.shapes.scene import WorldConfig
from datamodules.shapes.views import ShapesClassification
from experiments.explain import metrics
from experiments.explain.attributions import METHODS, attribute, cam_head
from experiments.explain.loading import PixelModel


def _square_masks(n: int = 4, side: int = 16) -> torch.Tensor:
    masks = torch.zeros(n, side, side, dtype=torch.bool)
    masks[:, 4:8, 4:8] = True  # 16 of 256 pixels
    return masks


def test_pointing_game_counts_a_maximum_inside_the_mask():
    masks = _square_masks()
    maps = torch.rand(4, 16, 16) * 0.5
    maps[0, 5, 5] = maps[1, 6, 6] = 1.0  # inside
    maps[2, 12, 12] = maps[3, 0, 15] = 1.0  # outside
    assert metrics.pointing_game(maps, masks) == pytest.approx(0.5)


def test_pointing_game_splits_ties_by_their_share_inside():
    masks = _square_masks(1)
    maps = torch.zeros(1, 16, 16)
    maps[0, 5, 5] = maps[0, 12, 12] = 1.0  # one maximum in, one out
    assert metrics.pointing_game(maps, masks) == pytest.approx(0.5)
    assert metrics.pointing_game(torch.ones(1, 16, 16), masks) == pytest.approx(metrics.mask_share(masks))


def test_pointing_ceiling_is_reached_by_the_best_node_and_bounds_every_grid_map():
    masks = torch.zeros(2, 12, 12, dtype=torch.bool)
    masks[0, 0:3, 0:3] = True  # covers the top-left node of a 3x3 grid (node centres at 2, 6, 10)
    masks[1, 3:5, 3:5] = True  # between nodes: no node's region reaches it
    ceiling = metrics.pointing_ceiling((3, 3), masks)
    assert 0.5 <= ceiling < 1.0
    assert metrics.pointing_ceiling((12, 12), masks) == pytest.approx(1.0)  # a full-resolution grid can point anywhere
    g = torch.Generator().manual_seed(0)
    for _ in range(20):  # no map on the grid beats it
        grid = torch.rand(2, 1, 3, 3, generator=g)
        up = torch.nn.functional.interpolate(grid, size=(12, 12), mode="bilinear")[:, 0]
        assert metrics.pointing_game(up, masks) <= ceiling + 1e-6


def test_mask_mass_and_share():
    masks = _square_masks(2)
    share = metrics.mask_share(masks)
    assert share == pytest.approx(16 / 256)
    assert metrics.mask_mass(torch.ones(2, 16, 16), masks) == pytest.approx(share)  # a blind map
    assert metrics.mask_mass(masks.float() * 3, masks) == pytest.approx(1.0)  # all mass inside
    assert metrics.mask_mass(torch.zeros(2, 16, 16), masks) == pytest.approx(share)  # empty map: uniform


def test_dilate_grows_masks_and_keeps_them_at_radius_zero():
    masks = _square_masks(1)
    assert torch.equal(metrics.dilate(masks, 0), masks)
    grown = metrics.dilate(masks, 2)
    assert grown.sum() == 8 * 8 and (grown | masks).equal(grown)
    assert metrics.tolerance_px(224) == 15 and metrics.tolerance_px(64) == 4


def test_spearman_is_one_for_identical_minus_one_for_reversed_and_scale_free():
    a = torch.randn(3, 8, 8)
    assert torch.allclose(metrics.spearman(a, a), torch.ones(3))
    assert torch.allclose(metrics.spearman(a, 5 * a + 2), torch.ones(3))
    assert torch.allclose(metrics.spearman(a, -a), -torch.ones(3))
    assert metrics.spearman(a, torch.randn(3, 8, 8)).abs().max() < 0.5


class _MeanRed(nn.Module):
    """Logit 1 grows with the mean of the red channel inside a fixed square; logit 0 is zero."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("m", masks[0].float())

    def forward(self, x):
        s = 20 * ((x[:, 0] * self.m).sum((1, 2)) / self.m.sum() - 0.5)
        return torch.stack([torch.zeros_like(s), s], 1)


def test_deletion_curve_runs_from_intact_to_fully_deleted_and_order_matters():
    masks = _square_masks(2)
    x = torch.full((2, 3, 16, 16), 0.3)
    x[:, 0][masks] = 1.0  # the evidence sits in the square
    model, y = _MeanRed(masks), torch.ones(2, dtype=torch.long)
    good = masks.float().flatten(1).argsort(1, descending=True)  # the square first
    bad = masks.float().flatten(1).argsort(1, descending=False)  # the square last
    cg, cb = metrics.deletion_curve(model, x, y, good, steps=8), metrics.deletion_curve(model, x, y, bad, steps=8)
    assert cg.shape == (2, 9)
    assert torch.allclose(cg[:, 0], cb[:, 0]) and torch.allclose(cg[:, -1], cb[:, -1])  # same ends
    assert (cb[:, 1:] <= cb[:, :-1] + 1e-6).all()  # deleting evidence never raises the score here
    assert metrics.auc(cg) < metrics.auc(cb)  # the right order drops faster


def test_occlusion_drops_covers_object_or_equal_background():
    masks = _square_masks(2)
    x = torch.full((2, 3, 16, 16), 0.3)
    x[:, 0][masks] = 1.0
    r = metrics.occlusion_drops(_MeanRed(masks), x, torch.ones(2, dtype=torch.long), masks)
    assert r["occlusion_drop_object"] > 0.1 and abs(r["occlusion_drop_background"]) < 1e-6
    bg = metrics.background_patch(masks[0])
    assert bg.sum() == masks[0].sum() and not (bg & masks[0]).any()


def test_object_mask_of_a_classification_sample_is_where_its_object_is_drawn():
    view = ShapesClassification("val", 4, WorldConfig(image_size=32, clutter=0, background="flat"))
    for i in range(2):
        image, _ = view[i]
        m = view.object_mask(i)
        assert m.shape == (32, 32) and 0 < m.float().mean() < 1
        inside = image[:, m].float().mean(1)  # the object's colour
        assert (image[:, m].float() - inside[:, None]).abs().max() < 60  # one (jittered) colour inside


class _TinyNet(nn.Module):
    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(8, k))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_attribution_gives_a_non_negative_map_per_image(name):
    torch.manual_seed(0)
    model = PixelModel(_TinyNet(), [0.5] * 3, [0.25] * 3).eval()
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([0, 2])
    maps = attribute(name, model, x, y, model.net.features[2])
    assert maps.shape == (2, 16, 16) and (maps >= 0).all() and torch.isfinite(maps).all()


def test_cam_needs_global_pooling_then_one_linear():
    assert cam_head(PixelModel(_TinyNet(), [0.5] * 3, [0.25] * 3)) is not None
    mlp = _TinyNet()
    mlp.classifier = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))
    assert cam_head(PixelModel(mlp, [0.5] * 3, [0.25] * 3)) is None


def test_datamodule_object_masks_are_the_val_views_masks():
    from datamodules.classification import ClassificationDataModule

    world = WorldConfig(image_size=32)
    dm = ClassificationDataModule(source="shapes", image_size=32, world=world, train_size=8, val_size=6)
    masks = dm.object_masks([0, 3])
    view = ShapesClassification("val", 6, dm.world)
    assert masks.shape == (2, 32, 32) and masks.dtype == torch.bool
    assert torch.equal(masks[1], view.object_mask(3))


def test_gradcam_is_the_hand_computed_grad_cam_upsampled():
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = PixelModel(_TinyNet(), [0.5] * 3, [0.25] * 3).eval()
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([0, 2])
    layer = model.net.features[2]
    a = model.net.features[:3]((x - model.mean) / model.std).detach().requires_grad_(True)  # (B, C, h, w)
    logits = model.net.classifier(model.net.avgpool(model.net.features[3:](a)).flatten(1))
    (g,) = torch.autograd.grad(logits.gather(1, y[:, None]).sum(), a)
    want = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1)).detach()  # Selvaraju 2017, Eq. 1-2
    got = METHODS["gradcam"](model, x, y, layer)
    assert torch.allclose(got, want, atol=1e-5)  # same size here: the upsampling is the identity
