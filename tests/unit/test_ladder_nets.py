"""LeNet-5, ZFNet, GoogLeNet and MobileNet v1: shapes, the papers' counts, the ablation switches."""

import pytest
import torch
from torch import nn
from torchvision.models import alexnet

from contracts.errors import ConfigError
from lit_modules.googlenet import GoogLeNetModule
from lit_modules.mobilenet import MobileNetModule
from lit_modules.nets.alexnet import AlexNet
from lit_modules.nets.googlenet import GoogLeNet, GoogLeNetOutput
from lit_modules.nets.lenet import LeNet5, TableConv2d, trainable_params
from lit_modules.nets.mobilenet import mobilenet_v1, mult_adds
from lit_modules.zfnet import ZFNetModule


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_lenet5_paper_layers_and_parameter_count():
    net = LeNet5(10)
    # Paper Sec. II-B: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 = 60,000; + a linear output 850.
    assert trainable_params(net.features) + trainable_params(net.classifier[:2]) == 60_000
    assert trainable_params(net) == 60_850
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert LeNet5(8, in_channels=3)(torch.randn(2, 3, 32, 32)).shape == (2, 8)


def test_lenet5_c3_table_cuts_the_unlisted_connections():
    c3 = LeNet5(10).features[4]
    assert isinstance(c3, TableConv2d)
    x = torch.zeros(1, 6, 10, 10, requires_grad=True)
    c3(x)[0, 0].sum().backward()  # map 0 reads S2 maps 0, 1, 2 only (Table I)
    touched = x.grad.abs().sum((0, 2, 3)) > 0
    assert touched.tolist() == [True, True, True, False, False, False]
    assert isinstance(LeNet5(10, full_c3=True).features[4], nn.Conv2d)
    assert trainable_params(LeNet5(10, full_c3=True)) == 60_850 + 16 * 6 * 25 - (1516 - 16)


def test_zfnet_stem_keeps_alexnets_6x6_map_at_224():
    with torch.device("meta"):  # shapes only
        zf = ZFNetModule(1000).net
        x = torch.empty(1, 3, 224, 224)
    conv1 = zf.features[0]
    assert (conv1.kernel_size, conv1.stride) == ((7, 7), (2, 2))
    assert conv1(x).shape[-1] == 110  # the paper's 110x110 layer-1 map
    assert zf.features(x).shape == (1, 256, 6, 6)
    alex = ZFNetModule(8, stem="alexnet", width=0.1, fc_dim=16).net.features[0]
    assert (alex.kernel_size, alex.stride) == ((11, 11), (4, 4))


def test_zfnet_dead_filter_share_counts_filters_that_never_fire():
    module = ZFNetModule(8, width=0.1, fc_dim=16, pool_output=1, lrn=False)
    with torch.no_grad():
        module.conv1.bias[:3] = -1e3  # three filters that can never be positive
    logged = {}
    module.log = lambda name, value, **_: logged.__setitem__(name, value)

    class _Strategy:  # a single process: reduce is the identity
        def reduce(self, t, reduce_op):
            return t

    module._trainer = type("T", (), {"strategy": _Strategy()})()
    module.on_validation_epoch_start()
    for i in range(2):
        module.validation_step((torch.randn(4, 3, 64, 64), torch.randint(0, 8, (4,))), i)
    module.on_validation_epoch_end()
    assert float(logged["val/dead_filters"]) == pytest.approx(3 / module.conv1.out_channels)


def test_googlenet_aux_heads_only_in_training():
    net = GoogLeNet(8, width=0.25, aux_fc_dim=32)
    out = net.train()(torch.randn(2, 3, 64, 64))
    assert isinstance(out, GoogLeNetOutput) and all(o.shape == (2, 8) for o in out)
    assert net.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 8)  # dropped at test
    no_aux = GoogLeNet(8, width=0.25, aux_logits=False).train()
    assert no_aux(torch.randn(2, 3, 64, 64)).shape == (2, 8)
    assert no_aux.aux1 is None and n_params(no_aux) < n_params(net)


def test_googlenet_training_loss_adds_weighted_aux_losses():
    torch.manual_seed(0)
    module = GoogLeNetModule(8, width=0.25, aux_fc_dim=32, dropout=0.0)
    module.log = lambda *a, **k: None
    images, labels = torch.randn(4, 3, 64, 64), torch.randint(0, 8, (4,))
    torch.manual_seed(1)
    total = module.training_step((images, labels), 0)
    torch.manual_seed(1)
    out = module.net.train()(images)
    ce = nn.functional.cross_entropy
    assert total.item() == pytest.approx((ce(out.logits, labels) + 0.3 * (ce(out.aux1, labels) + ce(out.aux2, labels))).item(), rel=1e-5)


def test_googlenet_parameters_against_alexnet_at_imagenet_size():
    # Paper: about 6.8 M parameters (Table 1), 12x fewer than AlexNet's 60 M. Measured from the builders:
    # 7.00 M (biases and the 5x5 kernels of Table 1 included) against torchvision's AlexNet, 61.1 M.
    with torch.device("meta"):
        g = n_params(GoogLeNet(1000, aux_logits=False))
        a = n_params(alexnet())
    assert g / 1e6 == pytest.approx(7.0, abs=0.05)
    assert a / 1e6 == pytest.approx(61.1, abs=0.05)
    assert a / g > 8.5
    assert GoogLeNet(1000, aux_logits=False).eval()(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("separable,madds,params", [(True, 569, 4.2), (False, 4866, 29.3)])
def test_mobilenet_table4_full_vs_separable(separable, madds, params):
    net = mobilenet_v1(1000, separable=separable)
    assert mult_adds(net, 224) / 1e6 == pytest.approx(madds, rel=0.005)
    assert n_params(net) / 1e6 == pytest.approx(params, abs=0.05)


@pytest.mark.parametrize("alpha,madds,params", [(1.0, 569, 4.2), (0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)])
def test_mobilenet_table6_width_multiplier(alpha, madds, params):
    net = mobilenet_v1(1000, alpha=alpha)
    assert mult_adds(net, 224) / 1e6 == pytest.approx(madds, rel=0.01)
    assert n_params(net) / 1e6 == pytest.approx(params, abs=0.05)


@pytest.mark.parametrize("side,madds", [(192, 418), (160, 290), (128, 186)])
def test_mobilenet_table7_resolution_multiplier(side, madds):
    assert mult_adds(mobilenet_v1(1000), side) / 1e6 == pytest.approx(madds, rel=0.01)


def test_mobilenet_depthwise_layers_and_demo_ratio():
    sep, full = mobilenet_v1(8, alpha=0.5), mobilenet_v1(8, alpha=0.5, separable=False)
    depthwise = [m for m in sep.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]
    assert len(depthwise) == 13 and not any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in full.modules())
    assert mult_adds(full, 32) / mult_adds(sep, 32) > 7  # the demo net, 32 px
    assert sep(torch.randn(2, 3, 32, 32)).shape == full(torch.randn(2, 3, 32, 32)).shape == (2, 8)


def test_mobilenet_unknown_alpha_is_a_config_error():
    with pytest.raises(ConfigError, match=r"model.init_args.alpha=0.6"):
        MobileNetModule(8, alpha=0.6)


def test_alexnet_defaults_unchanged_by_the_stem_arguments():
    with torch.device("meta"):
        default, explicit = AlexNet(1000), AlexNet(1000, stem_kernel=11, conv2_stride=1)
    assert n_params(default) == n_params(explicit)
    assert default.features[0].kernel_size == (11, 11) and default.features[4].stride == (1, 1)


def test_high_frequency_share_separates_smooth_from_checkerboard_filters():
    from lit_modules.zfnet import high_frequency_share

    y, x = torch.meshgrid(torch.arange(7.0), torch.arange(7.0), indexing="ij")
    smooth = torch.exp(-((x - 3) ** 2 + (y - 3) ** 2) / 8).expand(4, 3, 7, 7)  # a blob
    checker = ((x + y) % 2 * 2 - 1).expand(4, 3, 7, 7)  # the highest frequency there is
    assert high_frequency_share(smooth) < 0.1
    assert high_frequency_share(checker) > 0.9
