"""ResNet — "Deep Residual Learning for Image Recognition" (He, Zhang, Ren & Sun, CVPR 2016).

The idea: let a stack of layers fit a residual F(x) = H(x) - x and add x back through an
identity shortcut, so that a deeper net can do at least what a shallower one does. The claim
of the paper's Figure 6: deeper *plain* nets reach a higher training error than shallower ones
(the degradation problem, not overfitting), deeper *residual* nets a lower one. ``residual``
switches the shortcuts off with every layer kept; ``batch_norm`` is the BN ablation.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchvision.models import resnet

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.nets.pretrained import load_pretrained
from lit_modules.nets.resnet_cifar import CifarResNet

IMAGENET_DEPTHS = (18, 34, 50, 101, 152)  # torchvision's builders (the paper's Table 1)


class ResNetModule(ClassificationModule):
    """ResNet classifier: the CIFAR family (depth 6n+2, option-A shortcuts) or torchvision's ImageNet nets.

    Optimisation arguments: ``ClassificationModule``'s. Besides its metrics it logs
    ``train/loss_mean``, the running mean of the training loss over the epoch so far: at each
    validation it is that epoch's mean (results.json keeps it in ``history``, and at the end the
    last epoch's mean is in ``metrics``), the training-loss curve of Figure 6.

    Args:
        num_classes: classes in the data.
        depth: CIFAR family 20, 32, 44, 56, 110 (any 6n+2); ImageNet family 18, 34, 50, 101, 152.
        family: "cifar" (32 px, 16-32-64 channels, hand-written: torchvision has none) or
            "imagenet" (torchvision's ``resnet{depth}``, option-B projection shortcuts).
        residual: the shortcuts; False gives the plain net of Figure 6 (CIFAR family only).
        batch_norm: BN after every conv (the paper); False for the BatchNorm ablation.
        width: first-stage channels of the CIFAR family (16 = paper).
        stem_stride: CIFAR family: stride of the stem conv (1 = paper; 2 runs 64 px input at 32 px cost).
        weights: ImageNet family only: torchvision weights (``IMAGENET1K_V1`` or a local state dict).
        milestones: epochs at which ``schedule="step"`` divides the lr by 10 (the paper's CIFAR
            recipe: 32k and 48k of 64k iterations = epochs 82 and 123 of 164 at batch 128);
            None: every ``step_epochs``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        depth: int = 20,
        family: Literal["cifar", "imagenet"] = "cifar",
        residual: bool = True,
        batch_norm: bool = True,
        width: int = 16,
        stem_stride: int = 1,
        weights: str | None = None,
        milestones: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        if family == "cifar":
            if weights is not None:
                raise ConfigError("model.init_args.weights: torchvision has no CIFAR ResNet weights (family: cifar)")
            self.net = CifarResNet(depth, num_classes, residual=residual, batch_norm=batch_norm, width=width,
                                   stem_stride=stem_stride)
        else:
            if depth not in IMAGENET_DEPTHS:
                raise ConfigError(f"model.init_args.depth: {depth!r} is not an ImageNet ResNet depth "
                                  f"({', '.join(map(str, IMAGENET_DEPTHS))})")
            if not residual:
                raise ConfigError("model.init_args.residual: false is built for family: cifar only "
                                  "(torchvision's ImageNet ResNets have no plain variant)")
            norm = {} if batch_norm else {"norm_layer": lambda channels: nn.Identity()}
            self.net = getattr(resnet, f"resnet{depth}")(num_classes=num_classes, **norm)
            load_pretrained(self.net, f"resnet{depth}", weights, "model.init_args.weights", head="fc.")
        self.train_loss_mean = MeanMetric()

    @staticmethod
    def method_name(hparams: dict[str, Any]) -> str:
        """The report's Method column: "ResNet-20", "Plain-56" (Figure 6's names), "+ no BN" for the ablation."""
        depth = hparams.get("depth", 20)
        name = f"ResNet-{depth}" if hparams.get("residual", True) else f"Plain-{depth}"
        return name if hparams.get("batch_norm", True) else f"{name}, no BN"

    def on_train_epoch_end(self) -> None:
        # After the epoch's validation, so that it saw the whole epoch's mean; not at the epoch's
        # start, where it would wipe the half epoch a mid-epoch resume put back (experiments.resume).
        self.train_loss_mean.reset()

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = super().training_step(batch, batch_idx)
        self.train_loss_mean.update(loss.detach())
        return loss

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        # Computed when a validation reads it, not every step: compute() all-reduces under DDP.
        if self.train_loss_mean.update_called:
            self.log("train/loss_mean", self.train_loss_mean.compute())

