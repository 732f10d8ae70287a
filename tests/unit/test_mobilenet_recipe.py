"""MobileNet v1's recipe switches: the stem stride for small inputs, ReLU6, no weight decay on depthwise filters."""

import pytest
import torch
from torch import nn

from contracts.errors import ConfigError
from lit_modules.mobilenet import MobileNetModule
from lit_modules.nets.mobilenet import is_depthwise, mobilenet_v1, mult_adds


def test_stem_stride_1_ends_64px_at_4x4_with_4x_the_mult_adds():
    paper, small = mobilenet_v1(8, alpha=0.5), mobilenet_v1(8, alpha=0.5, stem_stride=1)
    x = torch.randn(2, 3, 64, 64)
    assert paper.forward_features(x).shape[-2:] == (2, 2) and small.forward_features(x).shape[-2:] == (4, 4)
    assert mult_adds(small, 64) / mult_adds(paper, 64) == pytest.approx(4.0, rel=0.01)
    full = mobilenet_v1(8, alpha=0.5, separable=False, stem_stride=1)
    assert mult_adds(full, 64) / mult_adds(small, 64) > 7  # the Table 4 ratio holds at either layout


def test_relu6_caps_every_activation():
    net = mobilenet_v1(8, alpha=0.25, activation="relu6")
    acts = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    assert len(acts) == 27 and all(type(m) is nn.ReLU6 for m in acts)  # stem + 13 x (depthwise, pointwise)
    assert all(type(m) is nn.ReLU for m in mobilenet_v1(8, alpha=0.25).modules() if isinstance(m, (nn.ReLU, nn.ReLU6)))


@pytest.mark.parametrize("lr_mult", [None, {"net.classifier": 0.1}])
def test_depthwise_filters_get_their_own_weight_decay(lr_mult):
    m = MobileNetModule(8, alpha=0.25, weight_decay=1e-4, depthwise_weight_decay=0.0, lr_mult=lr_mult)
    groups = m.optimizer_groups()
    seen = [id(p) for g in groups for p in g["params"]]
    assert sorted(seen) == sorted(id(p) for p in m.parameters())  # every parameter exactly once
    depthwise = {id(x.weight) for x in m.net.modules() if is_depthwise(x)}
    assert len(depthwise) == 13
    for g in groups:
        ids = {id(p) for p in g["params"]}
        if ids & depthwise:
            assert ids <= depthwise and g["weight_decay"] == 0.0
        elif any(p.ndim > 1 for p in g["params"]):
            assert g["weight_decay"] == 1e-4  # pointwise and full convs, the classifier
    default = MobileNetModule(8, alpha=0.25, weight_decay=1e-4).optimizer_groups()
    assert len(default) == 2 and default[0]["weight_decay"] == 1e-4  # None: the base's two groups


def test_bad_stem_stride_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model.init_args.stem_stride=4"):
        MobileNetModule(8, alpha=0.5, stem_stride=4)


def test_timm_separable_net_is_the_papers_plain_stack():
    """timm's blocks must stay the paper's: depthwise then pointwise, each with BN + activation, no skip connection."""
    net = mobilenet_v1(8, alpha=0.5)
    blocks = [b for stage in net.blocks for b in stage]
    assert len(blocks) == 13 and not any(b.has_skip for b in blocks)
    x = torch.randn(2, 3, 64, 64)
    assert net.forward_features(x).shape == (2, 512, 2, 2) and net(x).shape == (2, 8)


def test_shallow_mobilenet_is_table10():
    shallow = mobilenet_v1(1000, shallow=True)
    assert mult_adds(shallow, 224) / 1e6 == pytest.approx(307, rel=0.005)  # paper Table 10: 307 M, 2.9 M
    assert sum(p.numel() for p in shallow.parameters()) / 1e6 == pytest.approx(2.9, abs=0.05)
    assert sum(is_depthwise(m) for m in shallow.modules()) == 8
    sep, full = mobilenet_v1(8, alpha=0.5, shallow=True), mobilenet_v1(8, alpha=0.5, separable=False, shallow=True)
    assert mult_adds(full, 64) / mult_adds(sep, 64) > 7  # the demo's ratio condition holds for the shallow twin too
    assert full(torch.randn(2, 3, 64, 64)).shape == (2, 8)


@pytest.mark.parametrize("separable", [True, False])
def test_bn_momentum_and_eps_reach_every_batchnorm(separable):
    net = mobilenet_v1(8, alpha=0.25, separable=separable, bn_momentum=0.01, bn_eps=1e-3)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == (27 if separable else 14) and all(b.momentum == 0.01 and b.eps == 1e-3 for b in bns)


def test_rmsprop_tf_steps_like_sgd_momentum_on_small_gradients():
    """TF's RMSprop (eps 1.0 inside the root): a weight with gradients << 1 steps like SGD with momentum,
    lr g / (1 - momentum), where torch's RMSprop (eps 1e-8) would normalise the step to lr / (1 - momentum)."""
    from lit_modules.optim import make_optimizer

    w = nn.Parameter(torch.zeros(1))
    opt = make_optimizer([w], "rmsprop_tf", 0.1, momentum=0.9)
    g, steps = 1e-3, []
    for _ in range(300):
        before = w.detach().clone()
        w.grad = torch.full_like(w, g)
        opt.step()
        steps.append((before - w.detach()).item())
    assert steps[-1] == pytest.approx(0.1 * g / (1 - 0.9), rel=0.02)
