"""FCN, SegNet, DeconvNet and DeepLab nets, the segmentation base and live-tensor memory."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lit_modules.metrics.live_memory import forward_peak_bytes
from lit_modules.nets.deeplab import DeepLabV3R101, SmallDeepLab
from lit_modules.nets.fcn import FCN, bilinear_kernel, bilinear_up
from lit_modules.nets.segnet import DeconvNet, SegNet, UnpoolDecoder
from lit_modules.nets.unet import UNet


@pytest.mark.parametrize("factor", [2, 4, 8, 32])
def test_bilinear_init_equals_bilinear_interpolation(factor):
    x = torch.randn(2, 3, 5, 7)
    up = bilinear_up(3, factor, learn=True)
    want = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    got = up(x)
    assert got.shape == want.shape
    f = factor  # the transposed conv zero-pads; away from the one-input-pixel border it is exact
    assert torch.allclose(got[..., f:-f, f:-f], want[..., f:-f, f:-f], atol=1e-5)
    assert bilinear_kernel(3, factor)[0, 1].abs().sum() == 0  # per channel: no mixing of classes


@pytest.mark.parametrize("stride,fused", [(32, 0), (16, 1), (8, 2)])
def test_fcn_strides_fuse_pool4_and_pool3(stride, fused):
    net = FCN(5, stride=stride, width=4)
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 5, 64, 64)
    assert len(net.up2) == fused and (net.score4 is not None) == (fused >= 1) and (net.score3 is not None) == (fused == 2)
    for up in net.up2:  # learned 2x upsamplings start as bilinear interpolation
        assert torch.equal(up.weight, bilinear_kernel(5, 2)) and up.weight.requires_grad


def test_fcn_skip_scores_start_at_zero_and_learn():
    """The paper's staged training in one step: pool4/pool3 scores start at zero, so 8s starts as the coarse net."""
    net = FCN(3, stride=8, width=4)
    for score in (net.score4, net.score3):
        assert not score.weight.any() and not score.bias.any()
    F.cross_entropy(net(torch.randn(2, 3, 64, 64)), torch.randint(0, 3, (2, 64, 64))).backward()
    assert net.score3.weight.grad.abs().sum() > 0 and net.score4.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("net", [SegNet(4, width=4), DeconvNet(4, width=4)], ids=["segnet", "deconvnet"])
def test_unpooling_decoder_gets_only_indices_and_sizes(net):
    """SegNet's memory claim: the decoder's inputs are the bottleneck and int64 indices, no encoder feature map."""
    seen = []
    net.decoder.register_forward_pre_hook(lambda m, args: seen.append(args))
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 4, 64, 64)
    (x, pools), = seen
    assert x.shape[-2:] == (2, 2)  # the stride-32 map
    assert len(pools) == 5
    for (idx, size), side in zip(pools, [64, 32, 16, 8, 4]):
        assert idx.dtype == torch.int64 and size == (side, side)
    assert isinstance(net.decoder, UnpoolDecoder)


def test_unpooling_puts_values_back_where_the_maxima_were():
    net = SegNet(2, width=4, stages=1)
    x = torch.randn(1, 3, 8, 8)
    feat = net.encoder.stages[0](x)
    pooled, pools = net.encoder(x)
    sparse = net.decoder.unpool(pooled, pools[0][0], output_size=pools[0][1])
    kept = sparse != 0
    assert kept.view(1, 4, 4, 2, 4, 2).sum((3, 5)).le(1).all()  # one value per 2x2 window
    assert torch.equal(sparse[kept], feat[kept])


def test_small_deeplab_dilates_instead_of_pooling():
    net = SmallDeepLab(3, width=4, output_stride=8)
    seen = []
    net.head.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 3, 64, 64)
    assert seen[0][-2:] == (8, 8)
    assert [s[0].dilation for s in net.stages] == [(1, 1)] * 4 + [(2, 2)]
    with pytest.raises(ValueError, match="output_stride"):
        SmallDeepLab(3, output_stride=6)


def test_deeplab_resnet101_has_output_stride_16():
    net = DeepLabV3R101(5).eval()
    seen = []
    net.model.classifier.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 5, 64, 64)
    assert seen[0][-2:] == (4, 4)
    assert [m.rate if hasattr(m, "rate") else m[0].dilation[0] for m in net.model.classifier[0].convs[1:4]] == [6, 12, 18]


def test_live_memory_counts_what_is_held_at_once():
    conv = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))
    # the first output is alive while the second is computed: 2 maps of 8 x 64 x 64 float32
    assert forward_peak_bytes(conv, torch.randn(1, 3, 64, 64)) == 2 * 8 * 64 * 64 * 4


@pytest.mark.parametrize("stages", [5, 4], ids=["paper", "demo"])  # the demo's 4 stages: the U-Net demo's encoder (depth 3)
def test_segnet_holds_less_than_unet_with_the_same_encoder_convs(stages):
    x = torch.randn(1, 3, 64, 64)
    seg, unet = SegNet(7, width=16, stages=stages), UNet(7, depth=stages - 1, width=16)
    assert [m.out_channels for m in seg.encoder.modules() if isinstance(m, nn.Conv2d)] == \
        [m.out_channels for m in unet.down.modules() if isinstance(m, nn.Conv2d)]
    assert forward_peak_bytes(seg, x) < forward_peak_bytes(unet, x)


def test_segmentation_modules_share_the_base():
    from lit_modules.deconvnet import DeconvNetModule
    from lit_modules.deeplab import DeepLabModule
    from lit_modules.fcn import FCNModule
    from lit_modules.segmentation import SegmentationModule
    from lit_modules.segnet import SegNetModule
    from lit_modules.unet import UNetModule

    masks = torch.randint(0, 3, (2, 32, 32))
    for m in (UNetModule(3, depth=2, width=4), FCNModule(3, width=4), SegNetModule(3, width=4),
              DeconvNetModule(3, width=4, fc_kernel=1), DeepLabModule(3, width=4, aspp_channels=8)):
        assert isinstance(m, SegmentationModule) and m.hparams.lr == 1e-3
        loss = m.training_step((torch.randn(2, 3, 32, 32), masks), 0)
        assert loss.ndim == 0 and loss.item() > 0
    assert FCNModule.method_name({"stride": 16}) == "FCN-16s"


def test_fcn_without_first_pool_scores_pool3_at_stride_4():
    """The demo's miniature: pool3/pool4/pool5 at strides 4/8/16, so FCN-8s fuses a 16x16 map of a 64 px scene."""
    net = FCN(5, stride=8, width=4, first_pool=False)
    seen = []
    net.score3.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    net.score5.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 5, 64, 64)
    assert seen[0][-2:] == (4, 4) and seen[1][-2:] == (16, 16)  # pool5, then pool3
    assert net(torch.randn(1, 3, 48, 48)).shape == (1, 5, 48, 48)  # 16 divides 48; 32 does not
    with pytest.raises(ValueError, match="divisible by 32"):
        FCN(5, stride=8, width=4)(torch.randn(1, 3, 48, 48))
    with pytest.raises(ValueError, match="small encoder"):
        FCN(5, backbone="vgg16", first_pool=False)


def test_deeplab_v3plus_decoder_fuses_the_low_level_stage():
    net = SmallDeepLab(3, width=4, output_stride=8, aspp_channels=8, low_level_stride=2, low_level_channels=5,
                       decoder_channels=6)
    seen = []
    net.aspp.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    net.decoder.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape))
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 3, 64, 64)
    assert seen[0][-2:] == (8, 8)  # ASPP still at output stride 8
    assert seen[1] == (2, 8 + 5, 32, 32)  # ASPP upsampled to the stride-2 stage, concatenated with its reduction
    assert not hasattr(SmallDeepLab(3, width=4), "decoder")  # v3 keeps its head (and its checkpoints' keys)
    with pytest.raises(ValueError, match="low_level_stride"):
        SmallDeepLab(3, width=4, output_stride=8, low_level_stride=8)
    from lit_modules.deeplab import DeepLabModule
    assert DeepLabModule.method_name({"low_level_stride": 2}) == "DeepLab v3+"
    assert DeepLabModule.method_name({"low_level_stride": None}) == "DeepLab v3"


def test_median_frequency_weights_by_hand():
    from lit_modules.losses.class_balance import median_frequency_weights

    a = torch.zeros(4, 4, dtype=torch.long)
    a[0, :2] = 1  # class 1: 2 of 16 pixels; class 2 absent
    b = torch.zeros(4, 4, dtype=torch.long)
    b[:2] = 2  # class 2: 8 of 16
    b[3, 3] = 255  # ignored: b has 15 valid pixels
    w = median_frequency_weights([a[None], b[None]], num_classes=4)
    freq = torch.tensor([(14 + 7) / 31, 2 / 16, 8 / 15])  # class c's pixels / pixels of the images holding c
    want = freq.median() / freq
    assert torch.allclose(w[:3], want.float()) and w[3] == 1  # class 3 never seen: weight 1
    assert w[1] > w[2] > w[0]  # rarer weighs more, the background least


def test_class_weights_reach_the_cross_entropy():
    from contracts.errors import ConfigError
    from lit_modules.segnet import SegNetModule

    torch.manual_seed(0)
    images, masks = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 32, 32))
    plain = SegNetModule(3, width=4, stages=2)
    weighted = SegNetModule(3, width=4, stages=2, class_weights=[1.0, 1.0, 1.0])
    weighted.load_state_dict(plain.state_dict(), strict=False)
    assert torch.allclose(plain._loss(plain(images), masks), weighted._loss(weighted(images), masks))
    weighted.ce_weight.copy_(torch.tensor([0.0, 0.0, 1.0]))  # only class 2 counts
    logits = weighted(images)
    keep = torch.where(masks == 2, masks, torch.full_like(masks, 255))
    assert torch.allclose(weighted._loss(logits, masks), F.cross_entropy(logits, keep, ignore_index=255))
    assert "ce_weight" not in plain.state_dict()  # unweighted checkpoints keep their keys
    with pytest.raises(ConfigError, match="2 weights for 3 classes"):
        SegNetModule(3, width=4, class_weights=[1.0, 2.0])


def test_median_frequency_weights_are_set_when_fitting_starts(tmp_path):
    import lightning as L

    from datamodules.segmentation import SegmentationDataModule
    from lit_modules.segnet import SegNetModule

    dm = SegmentationDataModule(image_size=32, world={"image_size": 32}, train_size=8, val_size=4, batch_size=4,
                                num_workers=0)
    model = SegNetModule(9, width=4, stages=2, class_weights="median_frequency")
    assert torch.equal(model.ce_weight, torch.ones(9))
    trainer = L.Trainer(max_steps=1, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    w = model.ce_weight
    assert not torch.equal(w, torch.ones(9)) and bool((w > 0).all())
    assert w[0] < 1 < w[1:].max()  # the background, the most frequent class, weighs least
