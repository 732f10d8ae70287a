"""FCN (Long, Shelhamer, Darrell 2015): the module around ``nets.fcn.FCN``.

The idea: a classifier's convolutions score every pixel at stride 32, and scores from the finer
pool4 / pool3 maps, fused after learned 2x upsamplings initialised to bilinear, put back the
detail the strides lost (32s -> 16s -> 8s). Loss, metrics and media: ``SegmentationModule``.
"""

from __future__ import annotations

from typing import Any, Literal

from contracts.errors import ConfigError
from lit_modules.nets.fcn import FCN, Stride
from lit_modules.nets.pretrained import load_state, resolve
from lit_modules.segmentation import SegmentationModule


class FCNModule(SegmentationModule):
    """FCN-32s / 16s / 8s semantic segmentation (``configs/fcn/voc.yaml``: the paper's VGG-16 recipe).

    Optimisation, loss and media arguments: ``SegmentationModule``'s.

    Args:
        num_classes: classes including background.
        stride: 32, 16 or 8 (FCN-32s, -16s, -8s): the finest pool whose scores are fused.
        backbone: "small" (the demos' five-stage encoder) or "vgg16" (the paper's, fc6/fc7 as convs).
        width: first-stage channels of the small encoder.
        first_pool: the small encoder max-pools after its first stage; False puts pool3/pool4/pool5 at
            strides 4/8/16 (the demo: a 16x16 pool3 score map on 64 px scenes, ``nets.fcn.SmallBackbone``).
        weights: ImageNet VGG-16 weights for ``backbone: vgg16``: a torchvision weight name
            (``IMAGENET1K_V1``, fetched into torch.hub's cache when online) or a local state dict.
    """

    method_label = "FCN"

    def __init__(
        self,
        num_classes: int = 7,
        stride: Stride = 8,
        backbone: Literal["small", "vgg16"] = "small",
        width: int = 16,
        first_pool: bool = True,
        weights: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if backbone == "vgg16" and not first_pool:
            raise ConfigError("model.init_args.first_pool: false applies to backbone 'small' only (VGG-16 keeps its five pools)")
        self.net = FCN(num_classes, stride, backbone, width, first_pool)
        if weights is not None:
            if backbone != "vgg16":
                raise ConfigError("model.init_args.weights: ImageNet weights exist for backbone 'vgg16' only")
            self.net.backbone.load_classifier(load_state(resolve("vgg16", weights, "model.init_args.weights")))

    @staticmethod
    def method_name(hparams: dict) -> str:  # the report's Method column: FCN-8s, not FCN
        return f"FCN-{hparams.get('stride', 8)}s"
