"""Linear evaluation of a self-supervised encoder (the protocol of SimCLR Sec. 4 and MoCo Sec. 4.1).

The encoder is loaded from a pre-training checkpoint, frozen (weights and BN statistics), and
only a linear classifier on its pooled features is trained with labels. The accuracy measures
how linearly separable the learned representation makes the classes. ``checkpoint: random``
evaluates a randomly initialised encoder of the same architecture: the baseline that shows
what pre-training added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.data_checks import datamodule_of
from lit_modules.nets.pretext import Grayscale
from lit_modules.nets.ssl import Encoder, encoder

_ARCH = ("encoder", "cifar_stem", "width")


class LinearEval(ClassificationModule):
    """A linear classifier on a frozen encoder; batches follow the classification contract.

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s, passed on by keyword.

    Args:
        checkpoint: a Lightning checkpoint of ``SimCLR``/``MoCoV2`` (its ``backbone.*`` weights
            are loaded), or ``random`` for an untrained encoder.
        num_classes: classes in the data.
        encoder: must match the checkpoint's encoder (checked).
        cifar_stem: must match the checkpoint.
        width: must match the checkpoint (``small_cnn`` only).
        seed: initialisation seed of the random encoder for ``checkpoint: random``.
        feature_norm: BatchNorm without affine parameters on the features before the linear
            layer (as in MAE's linear probing): the probe becomes blind to the features' scale,
            which differs by orders of magnitude between a random and a trained encoder.
        grey_input: feed the encoder grey images (luma in all channels), as colourisation
            pre-trained it (``Colorization``; Zhang et al. 2016 evaluate on L).
    """

    method_label = "Linear evaluation"  # the report's Method column (experiments.method)

    def __init__(
        self,
        checkpoint: str,
        num_classes: int = 1000,
        encoder: Encoder = "resnet50",
        cifar_stem: bool = False,
        width: int = 32,
        seed: int = 0,
        feature_norm: bool = True,
        grey_input: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            backbone, dim = _build(encoder, cifar_stem, width)
        if checkpoint != "random":
            _load_backbone(backbone, checkpoint, {"encoder": encoder, "cifar_stem": cifar_stem, "width": width})
        backbone.requires_grad_(False)
        norm = nn.BatchNorm1d(dim, affine=False) if feature_norm else nn.Identity()
        self.net = nn.Sequential(backbone, norm, nn.Linear(dim, num_classes))  # (B, 3, H, W) -> (B, F) -> (B, C)
        self.grey = Grayscale() if grey_input else None  # no parameters: the state dict is unchanged

    def setup(self, stage: str) -> None:
        super().setup(stage)
        stats = getattr(datamodule_of(self), "_stats", None)
        if self.grey is not None and callable(stats):
            self.grey.set_stats(*stats())

    def forward(self, images: Tensor) -> Tensor:
        return super().forward(images if self.grey is None else self.grey(images))

    def train(self, mode: bool = True) -> LinearEval:
        super().train(mode)
        self.net[0].eval()  # frozen: BN keeps the pre-trained running statistics
        return self


def _build(name: Encoder, cifar_stem: bool, width: int) -> tuple[nn.Module, int]:
    return encoder(name, cifar_stem=cifar_stem, width=width)


def _load_backbone(backbone: nn.Module, path: str, arch: dict) -> None:
    """Load ``backbone.*`` of a pre-training checkpoint; a different architecture is a ConfigError."""
    if not Path(path).is_file():
        raise ConfigError(f"model.init_args.checkpoint={path!r} is not a file (give a pre-training "
                          "checkpoint, e.g. runs/simclr-demo/<id>/checkpoints/last.ckpt, or 'random')")
    try:
        # weights_only=False: Lightning checkpoints carry hyper-parameters (dataclasses); only
        # open checkpoints you made.
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ConfigError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"{path}: not a Lightning checkpoint (no 'state_dict')")
    hp = ckpt.get("hyper_parameters", {})
    diff = {k: (hp[k], v) for k, v in arch.items() if k in hp and hp[k] != v
            and not (k == "width" and arch["encoder"] != "small_cnn")}
    if diff:
        fix = " ".join(f"--model.init_args.{k} {a}" for k, (a, _) in diff.items())
        raise ConfigError(f"{path} holds a {hp.get('encoder')} encoder that does not match the linear-evaluation "
                          f"config: " + ", ".join(f"{k}={b!r} here but {a!r} in the checkpoint" for k, (a, b) in diff.items())
                          + f"; set {fix}")
    state = {k.removeprefix("backbone."): v for k, v in ckpt["state_dict"].items() if k.startswith("backbone.")}
    if not state:
        raise ConfigError(f"{path}: no 'backbone.*' weights; is it a checkpoint of the SSL family (SimCLR, MoCoV2, a pretext task)?")
    try:
        backbone.load_state_dict(state)
    except RuntimeError as e:
        raise ConfigError(f"{path}: its encoder weights do not fit the configured "
                          f"{arch['encoder']} encoder: {str(e).splitlines()[0]} {str(e)[:400]}") from e
