"""LeNet-5 — "Gradient-Based Learning Applied to Document Recognition" (LeCun et al. 1998).

The idea: a small convolutional net — local receptive fields, shared weights, subsampling —
learns its own features from 32x32 grayscale pixels end to end by gradient descent, where earlier
recognisers used hand-designed features. The net is ``lit_modules.nets.lenet.LeNet5``.
"""

from __future__ import annotations

from typing import Any

from lit_modules.classification import ClassificationModule
from lit_modules.nets.lenet import LeNet5


class LeNetModule(ClassificationModule):
    """LeNet-5 classifier (``configs/lenet/mnist.yaml``: the paper's MNIST setting).

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s. The paper
    trained with stochastic diagonal Levenberg-Marquardt (a per-weight step from a Hessian
    estimate, 20 epochs); the configs use SGD with momentum or AdamW instead.

    Args:
        num_classes: classes in the data.
        in_channels: 1 for grayscale input (the paper), 3 for colour.
        full_c3: C3 wired to all six S2 maps instead of the paper's Table I.
    """

    method_label = "LeNet-5"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, full_c3: bool = False, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = LeNet5(num_classes, in_channels=in_channels, full_c3=full_c3)
