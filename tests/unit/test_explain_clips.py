"""Explaining video nets: ShapesWorld's clip masks follow the moving shape, the clip metrics
score hand-made cases, and every attribution method returns a per-frame map on a C3D and an
R(2+1)D."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from datamodules.shapes.scene import WorldConfig
from datamodules.video import VideoDataModule
from experiments.explain import clip_metrics as cm
from experiments.explain.attributions import attribute
from experiments.explain.loading import explainable, pick_layer
from experiments.explain.parts_clips import CLIP_METHODS, strip
from lit_modules.nets.video import C3D, video_resnet18

WORLD = WorldConfig(image_size=32, kinds=["square", "triangle", "star"], min_objects=1, max_objects=1,
                    scale_range=(0.3, 0.6), clutter=1, background="texture")


def test_clip_masks_are_the_shape_in_every_frame_of_the_val_clip():
    dm = VideoDataModule(val_size=6, train_size=6, world=WORLD, motions=["move_left", "move_right"],
                         num_frames=6, clip_frames=8)
    dm.setup("validate")
    x, y = next(iter(dm.val_dataloader()))  # (6, 3, T, 32, 32) normalised
    masks = dm.object_masks(list(range(6)))
    assert masks.shape == (6, 6, 32, 32) and masks.dtype == torch.bool
    for clip, m, label in zip(x, masks, y.tolist()):
        inside = clip.permute(1, 2, 3, 0)[m]  # (pixels, 3): the shape has one colour in every frame
        assert inside.std(0).max() < 1e-4 and m.flatten(1).any(1).all()
        cols = torch.arange(32.0)
        centre_x = (m.float() * cols).sum((1, 2)) / m.float().sum((1, 2))  # (T,)
        assert (centre_x[-1] - centre_x[0]).sign() == (1 if dm.class_names[label] == "move_right" else -1)


def test_clip_metrics_on_hand_made_cases():
    maps, masks = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4, dtype=torch.bool)
    masks[0, :, 0, 0] = True
    maps[0, 0, 0, 0], maps[0, 1, 3, 3] = 1.0, 3.0  # frame 0 points inside, frame 1 outside
    assert cm.pointing_game_per_frame(maps, masks) == 0.5
    assert cm.frame_share(maps) == pytest.approx([0.25, 0.75])
    assert cm.frame_share(torch.ones(2, 4, 3, 3)) == pytest.approx([0.25] * 4)
    x = torch.rand(2, 3, 5, 4, 4)
    f = cm.frozen(x)
    assert all(torch.equal(f[:, :, t], x[:, :, 2]) for t in range(5))
    assert strip(x).shape == (2, 3, 4, 20) and torch.equal(strip(x)[..., 4:8], x[:, :, 1])


class _LooksAtCorner(nn.Module):
    """Class 0's logit grows with the brightness of the top-left 3x3 corner of every frame."""

    def forward(self, x: Tensor) -> Tensor:
        s = x[:, :, :, :3, :3].mean((1, 2, 3, 4)) * 20  # (B,)
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_covering_the_object_drops_only_where_the_model_looks():
    x = torch.zeros(3, 3, 4, 12, 12)
    x[:, :, :, :3, :3] = 1.0  # a bright object in the corner of every frame
    masks = torch.zeros(3, 4, 12, 12, dtype=torch.bool)
    masks[:, :, :3, :3] = True
    r = cm.occlusion_drops(_LooksAtCorner(), x, torch.zeros(3, dtype=torch.long), masks)
    assert r["occlusion_drop_object"] > 0.2 and abs(r["occlusion_drop_background"]) < 1e-3
    assert r["occlusion_background_area_ratio"] == pytest.approx(1.0)
    drops = cm.frame_drops(_LooksAtCorner(), x, torch.zeros(3, dtype=torch.long))
    assert len(drops) == 4 and all(d > 0 for d in drops)


@pytest.mark.parametrize("net", [C3D(4, width=0.125, hidden=16, dropout=0.0, batch_norm=True, pool_output=(1, 1, 1)),
                                 video_resnet18(4, factorised=True, width=4)])
def test_every_clip_method_gives_a_map_per_frame(net: nn.Module):
    torch.manual_seed(0)
    model = explainable(net.eval(), (0.5,) * 3, (0.25,) * 3)
    x, y = torch.rand(2, 3, 4, 16, 16), torch.tensor([0, 3])
    name, layer = pick_layer(model, None)
    assert isinstance(layer, nn.Conv3d), name
    for method in CLIP_METHODS:
        maps = attribute(method, model, x, y, layer)
        assert maps.shape == (2, 4, 16, 16) and (maps >= 0).all() and torch.isfinite(maps).all(), method


def test_a_relu_after_the_last_conv_is_a_valid_gradcam_layer():
    from contracts.errors import ConfigError
    from lit_modules.nets.alexnet import AlexNet

    model = explainable(AlexNet(num_classes=3, width=0.25, fc_dim=32, stem_stride=4, pool_output=1).eval(),
                        (0.5,) * 3, (0.25,) * 3)
    assert pick_layer(model, None)[0] == "features.12"
    _, relu = pick_layer(model, "features.13")
    assert isinstance(relu, nn.ReLU)
    maps = attribute("gradcam", model, torch.rand(2, 3, 64, 64), torch.tensor([0, 2]), relu)
    assert maps.shape == (2, 64, 64) and (maps >= 0).all()
    with pytest.raises(ConfigError, match="valid: features.0"):
        pick_layer(model, "features.14")  # a pooling layer
