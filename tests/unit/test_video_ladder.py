"""The rest of the video chapter's nets: early / slow fusion, LRCN, non-local blocks, I3D inflation
(the "boring video" test: an inflated net on one frame repeated gives the 2D net's output)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision.models import googlenet, resnet18

from contracts.errors import ConfigError
from lit_modules.nets.i3d import i3d_googlenet, inflate, inflate_conv
from lit_modules.nets.non_local import NonLocalBlock
from lit_modules.video import VideoModule

SMALL = {"width": 0.125, "resnet_width": 8, "hidden": 32, "batch_norm": True, "pool_output": (1, 1, 1)}


@pytest.mark.parametrize("arch", ["early_fusion", "slow_fusion", "lrcn", "c3d_nonlocal"])
def test_new_archs_output_shape_and_see_frame_order(arch):
    torch.manual_seed(0)
    m = VideoModule(num_classes=9, arch=arch, num_frames=8, **SMALL).eval()
    clips = torch.randn(2, 3, 8, 32, 32)
    assert m(clips).shape == (2, 9)
    if arch != "c3d_nonlocal":  # all fuse frames in order: playing the clip backwards changes the output
        assert (m(clips) - m(clips.flip(2))).abs().max() > (1e-6 if arch == "lrcn" else 1e-4)  # float noise ~1e-8


def test_slow_fusion_merges_time_to_one_step_over_three_layers():
    m = VideoModule(num_classes=9, arch="slow_fusion", num_frames=8, **SMALL)
    t = [x.shape[2] for x in _activations(m.net.features, torch.randn(1, 3, 8, 32, 32), nn.Conv3d)]
    assert t[:4] == [4, 2, 1, 1]  # Karpathy: time merged gradually, kernel 4 stride 2, then 2 and 2


def _activations(seq: nn.Sequential, x: torch.Tensor, kind: type) -> list[torch.Tensor]:
    out = []
    for layer in seq:
        x = layer(x)
        if isinstance(layer, kind):
            out.append(x)
    return out


def test_non_local_block_starts_as_identity_and_mixes_positions_once_trained():
    torch.manual_seed(0)
    block = NonLocalBlock(8).eval()
    x = torch.randn(2, 8, 3, 4, 4)
    assert torch.equal(block(x), x)  # zero-initialised output BN
    nn.init.ones_(block.out[1].weight)
    y = block(x)
    assert not torch.allclose(y, x)
    x2 = x.clone()
    x2[:, :, 0, 0, 0] += 5.0  # one position changed: every other position's output moves (non-local)
    assert (block(x2) - y)[:, :, 2, 3, 3].abs().max() > 1e-4


def test_non_local_insertion_keeps_the_function_of_c3d_and_resnets():
    torch.manual_seed(0)
    clips = torch.randn(2, 3, 8, 32, 32)
    for arch, where, n in (("c3d", [1, 7], 2), ("r2plus1d_18", [1, 2], 2), ("r3d_18", [3], 1)):
        nl = VideoModule(num_classes=5, arch=arch, non_local=where, **SMALL).eval()
        blocks = [(parent, name) for parent in nl.modules() for name, m in parent.named_children()
                  if isinstance(m, NonLocalBlock)]
        assert len(blocks) == n
        with_blocks = nl(clips)
        for parent, name in blocks:  # the same net without them
            parent._modules[name] = nn.Identity()
        assert torch.allclose(with_blocks, nl(clips), atol=1e-6)
    with pytest.raises(ConfigError, match=r"non_local=\[9\]"):
        VideoModule(num_classes=5, arch="c3d", non_local=[9], **SMALL)
    with pytest.raises(ConfigError, match="non-local blocks go into C3D"):
        VideoModule(num_classes=5, arch="lrcn", non_local=[1], **SMALL)


def test_inflated_conv_on_a_boring_video_is_the_2d_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    img = torch.randn(2, 3, 9, 9)
    boring = img.unsqueeze(2).expand(-1, -1, 5, -1, -1)  # (B, C, T, H, W): one frame repeated
    for padding in ("replicate", "zeros"):
        out = inflate_conv(conv, 3, time_padding=padding)(boring)
        ends = slice(None) if padding == "replicate" else slice(1, -1)  # zeros: exact away from the ends
        assert torch.allclose(out[:, :, ends], conv(img).unsqueeze(2).expand_as(out)[:, :, ends], atol=1e-5)


@pytest.mark.parametrize("builder", ["resnet18", "i3d_googlenet"])
def test_boring_video_gives_the_2d_nets_output(builder):
    torch.manual_seed(0)
    if builder == "resnet18":
        net2d = resnet18(num_classes=7).eval()
        net3d = inflate(net2d).eval()
    else:
        net2d = googlenet(weights=None, aux_logits=False, init_weights=True, transform_input=False,
                          num_classes=7).eval()
        net3d = i3d_googlenet(7, net2d=net2d).eval()
    for m in net2d.modules():  # a signal that reaches the output, and non-trivial BN statistics
        if isinstance(m, nn.Conv2d):  # (GoogLeNet's own init, N(0, 0.01), makes every output the bias)
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    net3d = inflate(net2d).eval() if builder == "resnet18" else i3d_googlenet(7, net2d=net2d).eval()
    img = torch.randn(2, 3, 64, 64)
    boring = img.unsqueeze(2).expand(-1, -1, 8, -1, -1).contiguous()
    with torch.no_grad():
        want, got = net2d(img), net3d(boring)
    assert (want[0] - want[1]).abs().max() > 1e-2  # the output depends on the image
    assert got.shape == (2, 7) and torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    assert any(isinstance(m, nn.Conv3d) and m.kernel_size[0] > 1 for m in net3d.modules())
    moving = boring.clone()
    moving[:, :, 4:] = torch.randn(2, 3, 1, 64, 64)  # not boring any more: the output changes
    with torch.no_grad():
        assert (net3d(moving) - want).abs().max() > 100 * (got - want).abs().max()


def test_i3d_arch_builds_and_paper_layout():
    m = VideoModule(num_classes=4, arch="i3d")
    net = m.net
    assert net.conv1.conv.kernel_size == (7, 7, 7) and net.conv1.conv.stride == (2, 2, 2)
    assert net.maxpool1.kernel_size == (1, 3, 3) and net.maxpool3.kernel_size == (3, 3, 3)
    assert m.eval()(torch.randn(1, 3, 8, 64, 64)).shape == (1, 4)


def test_lrcn_readouts_last_step_and_mean_over_time():
    from lit_modules.nets.fusion import LRCN

    torch.manual_seed(0)
    last = LRCN(5, width=0.125, hidden=16, readout="last").eval()
    mean = LRCN(5, width=0.125, hidden=16, readout="mean").eval()
    mean.load_state_dict(last.state_dict())
    clips = torch.randn(2, 3, 6, 32, 32)
    with torch.no_grad():
        states, _ = last.lstm(last.encoder(clips))  # (2, 6, 16)
        assert torch.allclose(last(clips), last.fc(states[:, -1]), atol=1e-6)
        assert torch.allclose(mean(clips), last.fc(states).mean(1), atol=1e-6)
        # the last step has read every frame: changing the first one changes its prediction
        changed = clips.clone()
        changed[:, :, 0] = torch.randn(2, 3, 32, 32)
        assert (last(changed) - last(clips)).abs().max() > 1e-6
    with pytest.raises(ValueError, match="readout"):
        LRCN(5, readout="first")
