"""FCN — Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation" (CVPR 2015).

A classification net made fully convolutional scores classes at stride 32 (FCN-32s); FCN-16s adds
scores from pool4 (stride 16) to the 2x-upsampled stride-32 scores, FCN-8s then also from pool3
(stride 8). The 2x upsamplings are transposed convolutions initialised to bilinear interpolation
and learned; the final upsampling to the image is fixed bilinear (``F.interpolate``: the paper's
frozen bilinear deconvolution, without its zero-padded border). The skip scoring layers start at
zero, so 16s/8s start as 32s (the paper's staged training in one step). Encoders: the demos'
small five-stage encoder (``seg_encoder``) or torchvision's VGG-16 with fc6/fc7 as convolutions
(the paper's net; fc6 is padded to keep the stride-32 grid instead of the paper's 100 px input
padding and crop).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import vgg16

from lit_modules.nets.seg_encoder import conv_stages, stage_widths

Stride = Literal[32, 16, 8]


def bilinear_kernel(channels: int, factor: int) -> Tensor:
    """(channels, channels, 2f - f%2, 2f - f%2) weights of a per-channel bilinear upsampling by ``factor``
    (the FCN/Caffe ``upsample_filt``): with stride f and padding ceil((f-1)/2) a ConvTranspose2d computes
    ``F.interpolate(x, scale_factor=f, mode="bilinear")`` away from the border."""
    k = 2 * factor - factor % 2
    centre = factor - 1 if k % 2 == 1 else factor - 0.5
    og = torch.arange(k, dtype=torch.float32)
    filt1d = 1 - (og - centre).abs() / factor  # (k,)
    w = torch.zeros(channels, channels, k, k)
    w[range(channels), range(channels)] = filt1d[:, None] * filt1d[None, :]
    return w


def bilinear_up(channels: int, factor: int, learn: bool) -> nn.ConvTranspose2d:
    """A transposed conv upsampling by ``factor`` (same size x factor), initialised to bilinear."""
    k = 2 * factor - factor % 2
    up = nn.ConvTranspose2d(channels, channels, k, stride=factor, padding=(k - factor) // 2, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, factor))
    up.weight.requires_grad_(learn)
    return up


class SmallBackbone(nn.Module):
    """The demos' five-stage encoder with plain max-pools: returns pool3, pool4 and the top (pool5) features.

    ``first_pool=False`` drops the max-pool after the first stage, so pool3/pool4/pool5 sit at strides
    4/8/16 instead of 8/16/32: on a 64 px scene pool3 is 16x16, 1/4 of the image side, about what the
    paper's pool3 is of its 224-500 px VOC images relative to their objects' detail (a 28-62 px map);
    at 8/16/32 the demo's pool3 is 8x8 and the 64 px scene's shapes are 2-4 score cells wide.
    """

    def __init__(self, width: int = 16, first_pool: bool = True) -> None:
        super().__init__()
        self.stages = conv_stages(width)
        self.pool = nn.MaxPool2d(2)
        self.first_pool = first_pool
        w = stage_widths(width)
        self.channels = (w[2], w[3], w[4])  # pool3, pool4, pool5
        self.top_stride = 32 if first_pool else 16

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pools = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i > 0 or self.first_pool:
                x = self.pool(x)
            pools.append(x)  # stage i: (B, width*2**i, H/2**(i+1), W/2**(i+1)); without first_pool half that stride
        return pools[2], pools[3], pools[4]


class VGG16Backbone(nn.Module):
    """torchvision's VGG-16 features with fc6 (7x7, 4096) and fc7 (1x1, 4096) as convolutions (the paper's)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = vgg16().features  # 31 layers; max-pools at 4, 9, 16, 23, 30
        self.fc = nn.Sequential(nn.Conv2d(512, 4096, 7, padding=3), nn.ReLU(inplace=True), nn.Dropout2d(0.5),
                                nn.Conv2d(4096, 4096, 1), nn.ReLU(inplace=True), nn.Dropout2d(0.5))
        self.channels = (256, 512, 4096)
        self.top_stride = 32

    def load_classifier(self, state: dict[str, Tensor]) -> None:
        """Copy torchvision VGG-16 weights in: features as they are, fc6/fc7 reshaped to convolutions."""
        self.features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()
                                       if k.startswith("features.")})
        with torch.no_grad():
            self.fc[0].weight.copy_(state["classifier.0.weight"].view(4096, 512, 7, 7))
            self.fc[0].bias.copy_(state["classifier.0.bias"])
            self.fc[3].weight.copy_(state["classifier.3.weight"].view(4096, 4096, 1, 1))
            self.fc[3].bias.copy_(state["classifier.3.bias"])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        pool3 = self.features[:17](x)  # (B, 256, H/8, W/8)
        pool4 = self.features[17:24](pool3)  # (B, 512, H/16, W/16)
        return pool3, pool4, self.fc(self.features[24:](pool4))  # (B, 4096, H/32, W/32)


class FCN(nn.Module):
    """FCN-32s / 16s / 8s on a backbone returning (pool3, pool4, stride-32 features).

    Args:
        num_classes: output channels (classes including background).
        stride: 32, 16 or 8: the finest pool whose scores are fused (none, pool4, pool3 and pool4).
        backbone: "small" (the demos' encoder) or "vgg16" (the paper's).
        width: first-stage channels of the small encoder.
        first_pool: the small encoder max-pools after its first stage (False: pool3/pool4/pool5 at
            strides 4/8/16, see ``SmallBackbone``; the names 32s/16s/8s keep naming the fused pools).

    I/O: images (B, 3, H, W), H and W divisible by the top stride (32; 16 without first_pool)
    -> logits (B, num_classes, H, W).
    """

    def __init__(self, num_classes: int, stride: Stride = 8, backbone: Literal["small", "vgg16"] = "small",
                 width: int = 16, first_pool: bool = True) -> None:
        super().__init__()
        self.stride = stride
        if backbone == "vgg16" and not first_pool:
            raise ValueError("first_pool: False applies to the small encoder only (VGG-16 keeps its five pools)")
        self.backbone = SmallBackbone(width, first_pool) if backbone == "small" else VGG16Backbone()
        c3, c4, c5 = self.backbone.channels
        self.score5 = nn.Conv2d(c5, num_classes, 1)
        self.score4 = nn.Conv2d(c4, num_classes, 1) if stride <= 16 else None
        self.score3 = nn.Conv2d(c3, num_classes, 1) if stride <= 8 else None
        for score in (self.score4, self.score3):
            if score is not None:  # the paper: skips start at zero, so a 16s/8s starts as the coarser net
                nn.init.zeros_(score.weight)
                nn.init.zeros_(score.bias)
        self.up2 = nn.ModuleList([bilinear_up(num_classes, 2, learn=True) for _ in range({32: 0, 16: 1, 8: 2}[stride])])

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        top = self.backbone.top_stride
        if h % top or w % top:
            raise ValueError(f"FCN needs H and W divisible by {top}, got {h}x{w}")
        pool3, pool4, top = self.backbone(x)
        scores = self.score5(top)  # (B, K, H/32, W/32) (strides halved without first_pool)
        if self.score4 is not None:
            scores = self.up2[0](scores) + self.score4(pool4)  # (B, K, H/16, W/16)
        if self.score3 is not None:
            scores = self.up2[1](scores) + self.score3(pool3)  # (B, K, H/8, W/8)
        return F.interpolate(scores, size=(h, w), mode="bilinear", align_corners=False)  # (B, K, H, W)
