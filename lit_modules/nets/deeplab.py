"""DeepLab v3 — Chen, Papandreou, Schroff, Adam, "Rethinking Atrous Convolution for Semantic Image
Segmentation" (2017).

The encoder stops down-sampling at the output stride and dilates its later stages instead
(same receptive field, finer score map); Atrous Spatial Pyramid Pooling then looks at several
scales at once — parallel 1x1 and dilated 3x3 convs plus image-level pooling — and the scores
are upsampled bilinearly to the image. Heads: torchvision's ``ASPP`` at a CPU's width on the
demos' small encoder, and torchvision's DeepLab v3 (``DeepLabV3``, ``DeepLabHead``) with ResNet-101
at output stride 16 (rates 6, 12, 18: the paper's VOC setting) for the paper config.

DeepLab v3+ (Chen, Zhu, Papandreou, Schroff, Adam, ECCV 2018) adds a decoder to the small net
(``low_level_stride``): the ASPP output, upsampled bilinearly to an early encoder map's size, is
concatenated with that map reduced by a 1x1 conv, refined by two 3x3 convs, and only then
upsampled to the image (paper: low-level features at stride 4 reduced to 48 channels, two 3x3
convs of 256, output stride 16).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet101
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.resnet import ResNet
from torchvision.models.segmentation.deeplabv3 import ASPP, DeepLabHead, DeepLabV3

from lit_modules.nets.seg_encoder import conv_bn_relu, conv_stages, stage_widths


class SmallDeepLab(nn.Module):
    """The demos' five-stage encoder, pooling only up to ``output_stride``, then dilated stages and ASPP.

    Args:
        num_classes: output channels.
        width: first-stage channels.
        output_stride: 4, 8 or 16: down-samplings before the dilated stages (log2 of it).
        rates: ASPP's dilation rates (paper at OS 16 on 513 px: 6, 12, 18; scaled to the small map).
        aspp_channels: channels of each ASPP branch and of the head (paper: 256).
        low_level_stride: None: DeepLab v3 (ASPP scores upsampled to the image). 1, 2, 4 or 8 below
            ``output_stride``: DeepLab v3+'s decoder, fusing the encoder stage that runs at that stride.
        low_level_channels: the 1x1 reduction of the low-level features (paper: 48 of 256, scaled here).
        decoder_channels: the decoder's two 3x3 convs (paper: 256).

    I/O: images (B, 3, H, W) -> logits (B, num_classes, H, W).
    """

    def __init__(self, num_classes: int, width: int = 16, output_stride: int = 8,
                 rates: tuple[int, ...] = (2, 4, 6), aspp_channels: int = 64, low_level_stride: int | None = None,
                 low_level_channels: int = 12, decoder_channels: int = 64) -> None:
        super().__init__()
        pools = output_stride.bit_length() - 1
        if 2**pools != output_stride or not 1 <= pools <= 4:
            raise ValueError(f"output_stride must be 2, 4, 8 or 16, got {output_stride}")
        dilations = [1] * (pools + 1) + [2 ** (i + 1) for i in range(4 - pools)]  # stages past the stride dilate
        self.stages = conv_stages(width, 5, dilations=dilations)
        self.pools = pools
        c = aspp_channels
        aspp = ASPP(stage_widths(width)[-1], list(rates), c)
        self.low_level = None
        if low_level_stride is None:  # v3: the DeepLabHead layout
            self.head = nn.Sequential(aspp, nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                      nn.ReLU(inplace=True), nn.Conv2d(c, num_classes, 1))
            return
        self.aspp = aspp
        level = low_level_stride.bit_length() - 1
        if 2**level != low_level_stride or not 0 <= level < pools:
            raise ValueError(f"low_level_stride must be a power of 2 below output_stride {output_stride}, got {low_level_stride}")
        self.level = level  # the stage that runs at low_level_stride, taken before its pool
        self.low_level = nn.Sequential(nn.Conv2d(stage_widths(width)[level], low_level_channels, 1, bias=False),
                                       nn.BatchNorm2d(low_level_channels), nn.ReLU(inplace=True))
        d = decoder_channels
        self.decoder = nn.Sequential(*conv_bn_relu(c + low_level_channels, d), *conv_bn_relu(d, d),
                                     nn.Conv2d(d, num_classes, 1))

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        low = None
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if self.low_level is not None and i == self.level:
                low = self.low_level(x)  # (B, low_level_channels, H/lls, W/lls)
            if i < self.pools:
                x = F.max_pool2d(x, 2)  # stride 2**(i+1); later stages keep the size, dilated
        if low is None:
            scores = self.head(x)  # (B, K, H/os, W/os)
        else:  # v3+: ASPP, upsampled to the low-level map, concatenated with it and refined
            x = F.interpolate(self.aspp(x), size=low.shape[-2:], mode="bilinear", align_corners=False)
            scores = self.decoder(torch.cat([x, low], 1))  # (B, K, H/lls, W/lls)
        return F.interpolate(scores, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)


class DeepLabV3R101(nn.Module):
    """torchvision's DeepLab v3 head on ResNet-101 at output stride 16 (layer4 dilated, rates 6/12/18).

    torchvision's ``deeplabv3_resnet101`` builder fixes output stride 8; the paper's VOC val figure is
    at 16, so this builds the same parts (``DeepLabV3``, ``DeepLabHead``) on a backbone dilated in
    layer4 only.

    Args:
        num_classes: output channels.
        resnet: a ResNet-101 built with ``replace_stride_with_dilation=[False, False, True]`` (e.g. with
            ImageNet weights loaded); None builds a fresh one.
    """

    def __init__(self, num_classes: int, resnet: ResNet | None = None) -> None:
        super().__init__()
        resnet = resnet or resnet101(replace_stride_with_dilation=[False, False, True])
        self.model = DeepLabV3(IntermediateLayerGetter(resnet, {"layer4": "out"}),
                               DeepLabHead(2048, num_classes, [6, 12, 18]), None)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)["out"]  # (B, K, H, W)
