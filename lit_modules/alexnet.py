"""AlexNet — "ImageNet Classification with Deep Convolutional Neural Networks" (Krizhevsky 2012).

The idea: a deep ReLU conv net trained with SGD + momentum, made to generalise by dropout,
local response normalisation, overlapping pooling and data augmentation (crops, flips,
PCA lighting — in ``datamodules.transforms``). Each ingredient is a switch for ablations.
"""

from __future__ import annotations

from typing import Any

from lit_modules.classification import ClassificationModule
from lit_modules.nets.alexnet import AlexNet


class AlexNetModule(ClassificationModule):
    """AlexNet classifier, each ingredient a switch; ``configs/alexnet/imagenet.yaml`` holds the
    paper's recipe (SGD 0.01, momentum 0.9, weight decay 5e-4, ÷10 steps).

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s, passed on by
    keyword. The AlexNet configs turn ``channels_last`` on: 1.15x faster train step on the demo
    (``paperlab bench --levers channels_last``, interleaved medians on 2 CPU cores).

    Args:
        num_classes: classes in the data.
        lrn: local response normalisation (paper Sec. 3.3).
        dropout: dropout probability in the FC layers (paper Sec. 4.2).
        overlap_pool: 3x3/2 overlapping max pooling (paper Sec. 3.4) vs 2x2/2.
        grouped: the paper's two-GPU grouped convolutions.
        width: conv channel multiplier (1.0 = paper).
        fc_dim: hidden FC width (4096 = paper).
        stem_stride: conv1 stride (4 = paper).
        pool_output: pooled side before the FC layers (6 = paper).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        lrn: bool = True,
        dropout: float = 0.5,
        overlap_pool: bool = True,
        grouped: bool = False,
        width: float = 1.0,
        fc_dim: int = 4096,
        stem_stride: int = 4,
        pool_output: int = 6,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = AlexNet(num_classes, lrn=lrn, dropout=dropout, overlap_pool=overlap_pool,
                           grouped=grouped, width=width, fc_dim=fc_dim, stem_stride=stem_stride,
                           pool_output=pool_output)
