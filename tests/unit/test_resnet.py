"""ResNet (He 2016): the CIFAR family against the paper's Table 6, option-A shortcuts, the plain twin, bad depths."""

import pytest
import torch
from torch import nn

from contracts.errors import ConfigError
from lit_modules.nets.resnet_cifar import CifarResNet, ShortcutA, blocks_per_stage
from lit_modules.resnet import ResNetModule
from tests.conftest import ROOT, paperlab_in_process


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(("depth", "millions"), [(20, 0.27), (56, 0.85), (110, 1.7)])
def test_cifar_params_match_table_6(depth, millions):
    assert n_params(CifarResNet(depth, 10)) / 1e6 == pytest.approx(millions, rel=0.03)


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_weighted_layers_are_6n_plus_2(depth):
    net = CifarResNet(depth, 10)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == depth  # every conv and the FC; option A adds no projection convs


def test_plain_twin_has_the_same_parameters_and_differs_only_by_the_shortcuts():
    res, plain = CifarResNet(20, 10), CifarResNet(20, 10, residual=False)
    assert [p.shape for p in res.parameters()] == [p.shape for p in plain.parameters()]
    plain.load_state_dict(res.state_dict())  # same keys: no shortcut parameters anywhere
    x = torch.randn(2, 3, 32, 32)
    assert not torch.allclose(res.eval()(x), plain.eval()(x))


def test_shortcut_a_subsamples_and_zero_pads_without_parameters():
    sc = ShortcutA(16, 32, stride=2)
    assert n_params(sc) == 0
    x = torch.randn(2, 16, 8, 8)
    y = sc(x)  # (2, 32, 4, 4): the 16 input channels in the middle, 8 zero channels on each side
    assert y.shape == (2, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()


def test_shapes_and_stage_sizes():
    net = CifarResNet(20, 7)
    x = torch.randn(3, 3, 32, 32)
    assert net.stages(net.stem(x)).shape == (3, 64, 8, 8)
    assert net(x).shape == (3, 7)
    assert CifarResNet(20, 7, width=8)(torch.randn(2, 3, 40, 40)).shape == (2, 7)


def test_without_batch_norm_has_no_bn_but_biases():
    net = CifarResNet(20, 10, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert all(m.bias is not None for m in net.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("depth", [21, 18, 2, 0, -4])
def test_depth_not_6n_plus_2_is_a_config_error(depth):
    with pytest.raises(ConfigError, match=f"depth: {depth} is not a CIFAR ResNet depth 6n\\+2"):
        blocks_per_stage(depth)


def test_imagenet_family_is_torchvision():
    m = ResNetModule(num_classes=1000, depth=50, family="imagenet")
    assert n_params(m.net) / 1e6 == pytest.approx(25.557, abs=0.01)  # torchvision resnet50
    m18 = ResNetModule(num_classes=5, depth=18, family="imagenet", batch_norm=False)
    assert m18(torch.randn(1, 3, 64, 64)).shape == (1, 5)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m18.modules())
    with pytest.raises(ConfigError, match="depth: 20 is not an ImageNet ResNet depth"):
        ResNetModule(depth=20, family="imagenet")
    with pytest.raises(ConfigError, match="residual: false"):
        ResNetModule(depth=18, family="imagenet", residual=False)


def test_cli_bad_depth_one_line_exit_2(tmp_path):
    code, _, err = paperlab_in_process("fit", "--config", str(ROOT / "configs/trainer/smoke.yaml"),
                                       "--config", str(ROOT / "configs/resnet/demo.yaml"),
                                       "--model.init_args.depth", "21", cwd=tmp_path)
    assert code == 2
    assert "model.init_args.depth: 21 is not a CIFAR ResNet depth 6n+2" in err and "Traceback" not in err


def test_method_name_follows_figure_6():
    assert ResNetModule.method_name({"depth": 56, "residual": False}) == "Plain-56"
    assert ResNetModule.method_name({"depth": 20, "residual": True, "batch_norm": False}) == "ResNet-20, no BN"
