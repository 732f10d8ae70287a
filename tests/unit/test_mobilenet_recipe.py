"""MobileNet v1's recipe switches: the stem stride for small inputs, ReLU6, no weight decay on depthwise filters."""

import pytest
import torch
from torch import nn

from contracts.errors import ConfigError
from lit_modules.mobilenet import MobileNetModule
from lit_modules.nets.mobilenet import MobileNetV1, is_depthwise, mult_adds


def test_stem_stride_1_ends_64px_at_4x4_with_4x_the_mult_adds():
    paper, small = MobileNetV1(8, alpha=0.5), MobileNetV1(8, alpha=0.5, stem_stride=1)
    x = torch.randn(2, 3, 64, 64)
    assert paper.features(x).shape[-2:] == (2, 2) and small.features(x).shape[-2:] == (4, 4)
    assert mult_adds(small, 64) / mult_adds(paper, 64) == pytest.approx(4.0, rel=0.01)
    full = MobileNetV1(8, alpha=0.5, separable=False, stem_stride=1)
    assert mult_adds(full, 64) / mult_adds(small, 64) > 7  # the Table 4 ratio holds at either layout


def test_relu6_caps_every_activation():
    net = MobileNetV1(8, alpha=0.25, activation="relu6")
    acts = [m for m in net.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    assert len(acts) == 27 and all(type(m) is nn.ReLU6 for m in acts)  # stem + 13 x (depthwise, pointwise)
    assert all(type(m) is nn.ReLU for m in MobileNetV1(8, alpha=0.25).modules() if isinstance(m, (nn.ReLU, nn.ReLU6)))


@pytest.mark.parametrize("lr_mult", [None, {"net.features": 0.1}])
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
