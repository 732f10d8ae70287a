"""VGG — "Very Deep Convolutional Networks for Large-Scale Image Recognition" (Simonyan 2015).

The idea: depth from stacks of 3x3 convolutions (configurations A/B/D/E = 11/13/16/19
layers) with the same training recipe as AlexNet plus scale jittering (in the datamodule).
"""

from __future__ import annotations

from typing import Any, Literal

from lit_modules.classification import ClassificationModule
from lit_modules.nets.pretrained import load_pretrained
from lit_modules.nets.vgg import VGG


class VGGModule(ClassificationModule):
    """VGG classifier (configurations A, B, D, E; ``configs/vgg/imagenet.yaml`` is the paper's recipe).

    Optimisation arguments: ``ClassificationModule``'s. Every VGG config sets ``channels_last``
    (1.20x faster train step on the demo: ``paperlab bench --levers channels_last``, 2 CPU cores).

    Args:
        num_classes: classes in the data.
        config: "A" (VGG-11), "B" (13), "D" (16), "E" (19).
        batch_norm: BN after each conv (torchvision's ``_bn`` variants; not in the paper).
        dropout: dropout in the FC layers.
        width: conv channel multiplier (1.0 = paper).
        fc_dim: hidden FC width (4096 = paper).
        pool_output: pooled side before the FC layers (7 = paper at 224 px).
        weights: ImageNet weights of torchvision's model of this configuration (``vgg16`` for "D",
            ``vgg16_bn`` with ``batch_norm``): a weight name (``IMAGENET1K_V1``, fetched into torch.hub's
            cache when online) or a local state dict; needs width 1, fc_dim 4096, pool_output 7. With
            ``num_classes`` other than 1000 the last layer starts fresh (fine-tuning). None: the paper's
            from-scratch initialisation.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        config: Literal["A", "B", "D", "E"] = "D",
        batch_norm: bool = False,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_dim: int = 4096,
        pool_output: int = 7,
        weights: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = VGG(num_classes, config=config, batch_norm=batch_norm, dropout=dropout,
                       width=width, fc_dim=fc_dim, pool_output=pool_output)
        arch = f"vgg{ {'A': 11, 'B': 13, 'D': 16, 'E': 19}[config]}{'_bn' if batch_norm else ''}"
        load_pretrained(self.net, arch, weights, "model.init_args.weights", head="classifier.6.")
