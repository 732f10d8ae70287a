"""DeepLab v3 (Chen et al. 2017): the module around ``nets.deeplab``.

The idea: dilated (atrous) convolutions instead of the last down-samplings keep the score map
fine without losing receptive field, and Atrous Spatial Pyramid Pooling sees several scales at
once. Loss, metrics and media: ``SegmentationModule``.
"""

from __future__ import annotations

from typing import Any, Literal

from torchvision.models import resnet101

from contracts.errors import ConfigError
from lit_modules.nets.deeplab import DeepLabV3R101, SmallDeepLab
from lit_modules.nets.pretrained import load_pretrained
from lit_modules.segmentation import SegmentationModule


class DeepLabModule(SegmentationModule):
    """DeepLab v3 semantic segmentation (``configs/deeplab/voc.yaml``: ResNet-101, output stride 16).

    Optimisation, loss and media arguments: ``SegmentationModule``'s.

    Args:
        num_classes: classes including background.
        backbone: "small" (the demos' five-stage encoder with a small ASPP) or "resnet101" (torchvision's
            DeepLab v3 parts at output stride 16).
        width: first-stage channels of the small encoder.
        output_stride: the small encoder's output stride (resnet101: always 16).
        rates: the small ASPP's dilation rates (resnet101: 6, 12, 18).
        aspp_channels: the small ASPP's channels (paper: 256).
        low_level_stride: None: DeepLab v3. A stride below ``output_stride``: DeepLab v3+ (Chen 2018), whose
            decoder fuses the small encoder's stage at that stride (paper: 4 under output stride 16).
        low_level_channels: v3+: the low-level features' 1x1 reduction (paper: 48).
        decoder_channels: v3+: the decoder's two 3x3 convs (paper: 256).
        weights: ImageNet ResNet-101 weights for ``backbone: resnet101`` (a torchvision weight name,
            fetched into torch.hub's cache when online, or a local state dict).
    """

    method_label = "DeepLab v3"

    def __init__(
        self,
        num_classes: int = 7,
        backbone: Literal["small", "resnet101"] = "small",
        width: int = 16,
        output_stride: int = 8,
        rates: tuple[int, ...] = (2, 4, 6),
        aspp_channels: int = 64,
        low_level_stride: int | None = None,
        low_level_channels: int = 12,
        decoder_channels: int = 64,
        weights: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if backbone == "small":
            if weights is not None:
                raise ConfigError("model.init_args.weights: ImageNet weights exist for backbone 'resnet101' only")
            self.net = SmallDeepLab(num_classes, width, output_stride, rates, aspp_channels, low_level_stride,
                                    low_level_channels, decoder_channels)
            return
        if low_level_stride is not None:
            raise ConfigError("model.init_args.low_level_stride: the v3+ decoder is built for backbone 'small' only")
        resnet = resnet101(replace_stride_with_dilation=[False, False, True])
        load_pretrained(resnet, "resnet101", weights, "model.init_args.weights")
        self.net = DeepLabV3R101(num_classes, resnet)

    @staticmethod
    def method_name(hparams: dict) -> str:  # the report's Method column: v3+ when the decoder is on
        return "DeepLab v3+" if hparams.get("low_level_stride") else "DeepLab v3"
