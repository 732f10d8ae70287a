"""SegNet (Badrinarayanan, Kendall, Cipolla, TPAMI 2017) and DeconvNet (Noh, Hong, Han, ICCV 2015).

Both decode by *unpooling*: each encoder max-pool remembers where its maxima were (the pooling
indices), and the decoder puts values back at those positions (sparse maps) before convolving
them dense again. The decoder receives the indices and the pre-pool sizes only — never an
encoder feature map — which is SegNet's memory claim against U-Net and FCN, which keep whole
feature maps for their skips. (The paper stores 2 bits per 2x2 window; PyTorch keeps the flat
index as int64, so the saving measured here is smaller than the paper's.)

SegNet: unpool, then 3x3 conv-BN-ReLU layers mirroring the encoder; a 1x1 classifier.
DeconvNet: the encoder's stride-32 map goes through fc6/fc7 (a conv covering the whole map, as
VGG's 7x7 fc6 does at 224 px, and a 1x1) and a transposed conv back, then unpool + 3x3 transposed
convs ("deconvolution") mirroring the encoder.
"""

from __future__ import annotations

from torch import Tensor, nn

from lit_modules.nets.seg_encoder import conv_stages, stage_widths

Pools = list[tuple[Tensor, tuple[int, int]]]  # per stage: int64 max-pool indices, pre-pool (H, W)


class IndexEncoder(nn.Module):
    """The demos' five-stage encoder, max-pooling with indices after each stage."""

    def __init__(self, width: int = 16, stages: int = 5) -> None:
        super().__init__()
        self.stages = conv_stages(width, stages)
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x: Tensor) -> tuple[Tensor, Pools]:
        pools: Pools = []
        for stage in self.stages:
            x = stage(x)
            size = (x.shape[-2], x.shape[-1])
            x, idx = self.pool(x)  # (B, C, H/2, W/2), int64 indices of the maxima
            pools.append((idx, size))
        return x, pools  # the feature maps before each pool are freed here


def _deconv_bn_relu(cin: int, cout: int, transpose: bool) -> list[nn.Module]:
    conv = (nn.ConvTranspose2d(cin, cout, 3, padding=1, bias=False) if transpose
            else nn.Conv2d(cin, cout, 3, padding=1, bias=False))
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class UnpoolDecoder(nn.Module):
    """Unpool with the encoder's indices, then ``convs`` 3x3 layers per stage (the mirror of the encoder).

    ``forward(x, pools)``: ``pools`` holds only indices and sizes (``IndexEncoder``'s second output).
    """

    def __init__(self, width: int = 16, stages: int = 5, convs: int = 2, transpose: bool = False) -> None:
        super().__init__()
        widths = stage_widths(width, stages)
        self.unpool = nn.MaxUnpool2d(2)
        self.stages = nn.ModuleList()
        for i in reversed(range(stages)):  # widths[i] -> widths[i - 1] (the last stage keeps widths[0])
            cout = widths[max(i - 1, 0)]
            layers: list[nn.Module] = []
            for j in range(convs):
                layers += _deconv_bn_relu(widths[i], widths[i] if j < convs - 1 else cout, transpose)
            self.stages.append(nn.Sequential(*layers))

    def forward(self, x: Tensor, pools: Pools) -> Tensor:
        for stage, (idx, size) in zip(self.stages, reversed(pools), strict=True):
            x = stage(self.unpool(x, idx, output_size=size))  # sparse (B, C, 2h, 2w) -> dense
        return x


class SegNet(nn.Module):
    """SegNet: index-pooling encoder, unpooling decoder with convs, 1x1 classifier.

    Args:
        num_classes: output channels.
        width: first-stage channels (16 on the demo; VGG-16's 64 in the paper).
        stages: encoder stages (paper: 5, VGG-16's conv blocks).

    I/O: images (B, 3, H, W), H and W divisible by 2**stages -> logits (B, num_classes, H, W).
    """

    def __init__(self, num_classes: int, width: int = 16, stages: int = 5) -> None:
        super().__init__()
        self.encoder = IndexEncoder(width, stages)
        self.decoder = UnpoolDecoder(width, stages)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        x, pools = self.encoder(x)  # (B, C, H/32, W/32) and indices
        return self.classifier(self.decoder(x, pools))  # (B, K, H, W)


class DeconvNet(nn.Module):
    """DeconvNet: index-pooling encoder, fc6/fc7 bottleneck, unpooling + transposed-conv decoder.

    Args:
        num_classes: output channels.
        width: first-stage channels.
        stages: encoder stages (paper: 5).
        fc_kernel: fc6's kernel = the stride-32 map's side (paper: 7 at 224 px; 2 at the demo's 64 px).
        fc_dim: fc6/fc7 channels (paper: 4096).

    I/O: images (B, 3, H, W) with H = W = fc_kernel * 2**stages -> logits (B, num_classes, H, W).
    """

    def __init__(self, num_classes: int, width: int = 16, stages: int = 5, fc_kernel: int = 2,
                 fc_dim: int = 256) -> None:
        super().__init__()
        c = stage_widths(width, stages)[-1]
        self.encoder = IndexEncoder(width, stages)
        self.fc = nn.Sequential(nn.Conv2d(c, fc_dim, fc_kernel, bias=False), nn.BatchNorm2d(fc_dim), nn.ReLU(inplace=True),
                                nn.Conv2d(fc_dim, fc_dim, 1, bias=False), nn.BatchNorm2d(fc_dim), nn.ReLU(inplace=True),
                                nn.ConvTranspose2d(fc_dim, c, fc_kernel, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.decoder = UnpoolDecoder(width, stages, transpose=True)
        self.classifier = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        x, pools = self.encoder(x)  # (B, C, k, k), k = fc_kernel
        x = self.fc(x)  # (B, fc_dim, 1, 1) -> back to (B, C, k, k)
        return self.classifier(self.decoder(x, pools))  # (B, K, H, W)
