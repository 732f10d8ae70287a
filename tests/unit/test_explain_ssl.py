"""A self-supervised encoder read through its online probe (experiments.explain.loading.ProbedEncoder)
is the classifier the encoder and probe compute, and ShapesWorld's SSL view gives the mask of the
object its label names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from datamodules.shapes.scene import WorldConfig
from datamodules.shapes.views import ShapesUnlabeled
from experiments.explain.attributions import cam, cam_head
from experiments.explain.loading import ProbedEncoder, explainable
from lit_modules.nets.ssl import encoder


@pytest.mark.parametrize("name", ["small_cnn", "resnet18"])
def test_probed_encoder_equals_probe_of_backbone_in_eval_mode(name: str):
    torch.manual_seed(0)
    backbone, dim = encoder(name, cifar_stem=True, width=8)
    probe = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, 5))
    x = torch.randn(6, 3, 32, 32)
    backbone.train(), probe.train()
    for _ in range(3):  # running statistics away from (0, 1), as after pre-training
        probe(backbone(x * 3 + 1))
    backbone.eval(), probe.eval()
    with torch.no_grad():
        want = probe(backbone(x))
        got = ProbedEncoder(backbone, probe).eval()(x)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_cam_applies_to_a_probed_encoder_and_sums_to_its_logit():
    torch.manual_seed(0)
    backbone, dim = encoder("small_cnn", width=8)
    probe = nn.Sequential(nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, 4)).eval()
    model = explainable(ProbedEncoder(backbone.eval(), probe), (0.0,) * 3, (1.0,) * 3)
    assert cam_head(model) is not None
    x, y = torch.rand(3, 3, 32, 32), torch.tensor([0, 1, 2])
    feats = model.net.features(x)
    raw = torch.einsum("bchw,bc->bhw", feats, cam_head(model).weight[y])  # CAM before the ReLU
    logits = model(x)[torch.arange(3), y] - cam_head(model).bias[y]
    torch.testing.assert_close(raw.mean((1, 2)), logits, rtol=1e-4, atol=1e-4)  # the logit is the map's mean
    assert cam(model, x, y, model.net.features[-1]).shape == (3, 32, 32)


def test_ssl_view_masks_the_largest_object_as_the_image_shows_it():
    view = ShapesUnlabeled("val", 20, WorldConfig(image_size=48, seed=3))
    for i in range(20):
        scene, mask = view.scene(i), view.object_mask(i)
        image, _ = view[i]
        largest = max(scene.objects, key=lambda o: o.size)
        assert view.label(scene) == largest.label and mask.shape == (48, 48) and mask.any()
        colour = torch.tensor(largest.color, dtype=torch.uint8)  # the visible mask shows exactly its colour
        assert (image[:, mask] == colour[:, None]).all()
