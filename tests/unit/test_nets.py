"""Architectures: output shapes, the papers' parameter counts, ablation switches."""

import pytest
import torch
from torch import nn

from lit_modules.nets.alexnet import AlexNet
from lit_modules.nets.vgg import VGG
from lit_modules.nets.vit import vit


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_alexnet_paper_parameter_count():
    # Paper: "60 million parameters" with the two-GPU grouped convs; torchvision's variant 61.1 M.
    assert n_params(AlexNet(1000, grouped=True)) == pytest.approx(61.0e6, rel=0.01)
    assert n_params(AlexNet(1000)) == pytest.approx(62.4e6, rel=0.01)


def test_alexnet_224_output_and_feature_map():
    net = AlexNet(1000).eval()
    x = torch.randn(2, 3, 224, 224)
    assert net.features(x).shape == (2, 256, 6, 6)  # the paper's 6x6x256 before the FC layers
    assert net(x).shape == (2, 1000)


def test_alexnet_switches_change_the_net():
    lrn = AlexNet(10, lrn=True)
    no_lrn = AlexNet(10, lrn=False)
    assert any(isinstance(m, nn.LocalResponseNorm) for m in lrn.modules())
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in no_lrn.modules())
    assert all(m.p == 0 for m in AlexNet(10, dropout=0.0).modules() if isinstance(m, nn.Dropout))
    pools = [m for m in AlexNet(10, overlap_pool=False).modules() if isinstance(m, nn.MaxPool2d)]
    assert all(p.kernel_size == 2 and p.stride == 2 for p in pools)
    overlapping = [m for m in AlexNet(10).modules() if isinstance(m, nn.MaxPool2d)]
    assert all(p.kernel_size == 3 and p.stride == 2 for p in overlapping)


def test_alexnet_small_demo_shape():
    net = AlexNet(8, width=0.5, fc_dim=512, pool_output=1)
    assert net(torch.randn(3, 3, 64, 64)).shape == (3, 8)


@pytest.mark.parametrize("config,millions", [("A", 132.86), ("B", 133.05), ("D", 138.36), ("E", 143.67)])
def test_vgg_parameter_counts(config, millions):
    # Table 2 of the paper: 133, 133, 138, 144 M.
    with torch.device("meta"):
        net = VGG(1000, config=config)
    assert n_params(net) / 1e6 == pytest.approx(millions, abs=0.01)


def test_vgg_conv_depths_and_output():
    for config, convs in {"A": 8, "B": 10, "D": 13, "E": 16}.items():
        net = VGG(10, config=config, width=0.125, fc_dim=32, pool_output=1)
        assert sum(isinstance(m, nn.Conv2d) for m in net.modules()) == convs
    net = VGG(10, config="D", batch_norm=True, width=0.125, fc_dim=32, pool_output=1)
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 10)
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_vit_b16_parameters_and_tokens():
    with torch.device("meta"):
        net = vit(1000)
    assert n_params(net) / 1e6 == pytest.approx(86.57, abs=0.05)  # ViT-B/16: 86 M (paper Table 1)
    small = vit(8, image_size=64, patch_size=8, width=64, depth=2, heads=4)
    assert small.patch_embed.num_patches == 64
    assert small(torch.randn(2, 3, 64, 64)).shape == (2, 8)


def test_vit_conv_stem_keeps_the_token_grid():
    """Xiao et al. 2021: log2(patch) stride-2 convs replace the patchify layer; same tokens out."""
    net = vit(8, image_size=64, patch_size=16, width=128, depth=1, heads=4, stem="conv")
    convs = [m for m in net.patch_embed.backbone if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2)] * 4 and convs[-1].out_channels == 128
    assert net.patch_embed.num_patches == 16
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 8)
    with pytest.raises(ValueError, match="power-of-two"):
        vit(8, image_size=48, patch_size=12, stem="conv")


def test_vit_rejects_indivisible_patch():
    with pytest.raises(ValueError, match="divisible"):
        vit(10, image_size=30, patch_size=8)
