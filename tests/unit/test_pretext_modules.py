"""Pretext-task modules: forward and loss, what reaches the encoder, BN statistics, grey input."""

import pytest
import torch

from contracts.errors import ConfigError
from lit_modules.colorization import Colorization
from lit_modules.jigsaw import Jigsaw
from lit_modules.linear_eval import LinearEval
from lit_modules.nets.pretext import Grayscale, frozen_bn_stats
from lit_modules.relative_position import RelativePosition
from lit_modules.rotnet import RotNet

SMALL = {"num_classes": 3, "encoder": "small_cnn", "width": 8}
CASES = [(RotNet, {"hidden": 16}, 4), (RelativePosition, {"hidden": 16, "patch": 8}, 8),
         (Jigsaw, {"hidden": 16, "grid": 2, "patch": 12, "num_permutations": 10}, 10),
         (Colorization, {"hidden": 8}, None)]


def _batch(b=6, size=32):
    torch.manual_seed(0)
    return torch.randn(b, 2, 3, size, size), torch.tensor([0, 1, 2, -1, 0, 1][:b])


@pytest.mark.parametrize("cls,kw,n_labels", CASES, ids=[c[0].__name__ for c in CASES])
def test_step_trains_the_encoder_through_the_pretext_loss(cls, kw, n_labels):
    model = cls(**SMALL, **kw)
    views, _ = _batch()
    logits, targets, h = model.pretext(views[:, 0])
    assert h.shape == (6, 64)  # whole-image features for the probe: 8 * width
    if n_labels:  # a classification over the task's labels, every label in range
        assert logits.shape[1] == n_labels and targets.min() >= 0 and targets.max() < n_labels
    loss = model.training_step(_batch(), 0)
    loss.backward()
    assert loss.isfinite()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 64)
    assert model.media(views[:2, 0]).dtype.name == "uint8"


def test_rotation_loss_falls_when_fitting_a_batch():
    torch.manual_seed(0)
    model = RotNet(**SMALL, hidden=32)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = torch.randn(8, 3, 16, 16)
    losses = []
    for _ in range(15):
        logits, y, _ = model.pretext(x)
        loss = model.pretext_loss(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


def test_patch_passes_leave_bn_running_statistics_to_whole_images():
    model = Jigsaw(**SMALL, hidden=16, grid=2, patch=12, num_permutations=4)
    bn = model.backbone.features[1]
    with frozen_bn_stats(model.backbone):
        model.backbone(torch.randn(4, 3, 12, 12) + 5)
    assert torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean)) and bn.momentum == 0.1
    model.pretext(torch.randn(4, 3, 32, 32))  # patches, then the whole images without gradients
    assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))


def test_colourisation_on_grey_images_is_a_config_error():
    model = Colorization(**SMALL, hidden=8)
    grey = Grayscale()(torch.randn(4, 3, 32, 32))
    with pytest.raises(ConfigError, match="colourisation needs colour images"):
        model.pretext(grey)
    model.pretext(torch.randn(4, 3, 32, 32))  # colour passes


def test_colourisation_encoder_and_its_linear_eval_see_only_luma():
    torch.manual_seed(0)
    model = Colorization(**SMALL, hidden=8).eval()
    grey_probe = LinearEval("random", encoder="small_cnn", width=8, num_classes=3, grey_input=True).eval()
    colour_probe = LinearEval("random", encoder="small_cnn", width=8, num_classes=3).eval()
    x = torch.rand(2, 3, 16, 16)
    luma_gb = x[:, 1:2] * 0.587 + x[:, 2:3] * 0.114
    other = torch.cat([x[:, :1], (luma_gb / 0.701).expand(2, 2, 16, 16)], 1)  # G, B changed, luma kept
    x, other = (x - 0.5) / 0.25, (other - 0.5) / 0.25  # the default (ShapesWorld) normalisation
    assert torch.allclose(model.features(x), model.features(other), rtol=1e-4, atol=1e-7)
    assert torch.allclose(grey_probe.net[0](grey_probe.grey(x)), grey_probe.net[0](grey_probe.grey(other)), rtol=1e-4, atol=1e-7)
    assert torch.allclose(grey_probe(x), grey_probe(other), rtol=1e-4, atol=1e-7)
    assert not torch.allclose(colour_probe.net[0](x), colour_probe.net[0](other), rtol=1e-3, atol=0)  # RGB encoders see colour
