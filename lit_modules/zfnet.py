"""ZFNet — "Visualizing and Understanding Convolutional Networks" (Zeiler & Fergus, ECCV 2014).

The idea: look at what a trained net's first layer learned, and fix the architecture from it.
AlexNet's 11x11 stride-4 conv1 left a mix of high- and low-frequency filters, few in the middle,
many "dead", and aliasing in conv2 (paper Fig. 6); a 7x7 stride-2 conv1 (and conv2 at stride 2,
so the map before the FC layers stays 6x6) gives more distinctive filters and lower error. The
net is ``lit_modules.nets.alexnet.AlexNet`` with that stem; ``stem: alexnet`` is the control.

Measured here at every validation: ``val/dead_filters``, the share of conv1 filters that are
*dead*: their ReLU output is positive at fewer than ``dead_below`` (0.1 %) of all conv1 output
positions of all validation images; and ``val/conv1_hf_share`` (``high_frequency_share``). At the end of a fit, the conv1 filters are drawn into
``conv1_filters.png`` in the run folder (each filter stretched to its own range, as the paper does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from lit_modules.classification import ClassificationModule
from lit_modules.nets.alexnet import AlexNet

# stem -> (conv1 kernel, conv1 stride, conv2 stride)
STEMS = {"zfnet": (7, 2, 2), "alexnet": (11, 4, 1)}


class ZFNetModule(ClassificationModule):
    """ZFNet classifier: AlexNet with the paper's 7x7/2 stem (``configs/zfnet/imagenet.yaml``).

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s.

    Args:
        num_classes: classes in the data.
        stem: "zfnet" (conv1 7x7 stride 2, conv2 stride 2) or "alexnet" (11x11 stride 4, conv2
            stride 1): the ablation of the paper's Sec. 4.1 fix.
        lrn: local response normalisation after conv1 and conv2 (both papers).
        dropout: dropout in the FC layers.
        width: conv channel multiplier (1.0 = paper: 96-256-384-384-256).
        fc_dim: hidden FC width (4096 = paper).
        pool_output: pooled side before the FC layers (6 = paper).
        dead_below: a conv1 filter positive at fewer than this share of its output positions over
            the validation set counts as dead (``val/dead_filters``).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        stem: Literal["zfnet", "alexnet"] = "zfnet",
        lrn: bool = True,
        dropout: float = 0.5,
        width: float = 1.0,
        fc_dim: int = 4096,
        pool_output: int = 6,
        dead_below: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        kernel, stride, conv2_stride = STEMS[stem]
        self.net = AlexNet(num_classes, lrn=lrn, dropout=dropout, width=width, fc_dim=fc_dim, stem_kernel=kernel,
                           stem_stride=stride, conv2_stride=conv2_stride, pool_output=pool_output)
        self._fired = self._seen = None

    @property
    def conv1(self) -> torch.nn.Conv2d:
        return self.net.features[0]

    def on_validation_epoch_start(self) -> None:
        self._fired = torch.zeros(self.conv1.out_channels, device=self.device, dtype=torch.float64)
        self._seen = torch.zeros((), device=self.device, dtype=torch.float64)

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        super().validation_step(batch, batch_idx)
        with torch.no_grad():
            out = self.conv1(batch[0])  # (B, C1, h, w) pre-ReLU
        self._fired += (out > 0).sum((0, 2, 3)).double()
        self._seen += out[:, 0].numel()

    def on_validation_epoch_end(self) -> None:
        fired = self.trainer.strategy.reduce(self._fired, reduce_op="sum")  # counts over all ranks
        seen = self.trainer.strategy.reduce(self._seen, reduce_op="sum")
        self.log("val/dead_filters", ((fired / seen) < self.hparams.dead_below).float().mean(), sync_dist=False)
        self.log("val/conv1_hf_share", high_frequency_share(self.conv1.weight.detach()), sync_dist=False)

    def on_fit_end(self) -> None:
        if self.trainer.is_global_zero and self.trainer.default_root_dir:
            save_filter_grid(self.conv1.weight, Path(self.trainer.default_root_dir) / "conv1_filters.png")


def high_frequency_share(weight: Tensor) -> float:
    """Mean share of a conv1 filter's spectral energy above half the Nyquist frequency, ``weight (C, 3, k, k)``.

    Each filter's per-channel mean (its colour offset) is removed first. White noise scores about 0.8 (He init:
    0.83 for 7x7, 0.84 for 11x11); smooth, blob- or edge-like filters score lower. The paper's Fig. 6 shows
    AlexNet's filters split between very high and very low frequencies; this is one number for that.
    """
    w = weight.float() - weight.float().mean((2, 3), keepdim=True)
    power = torch.fft.fft2(w).abs() ** 2  # (C, 3, k, k)
    f = torch.fft.fftfreq(w.shape[-1], device=w.device) * 2  # frequency in units of Nyquist
    radius = (f.view(-1, 1) ** 2 + f.view(1, -1) ** 2).sqrt()
    return ((power * (radius > 0.5)).sum((1, 2, 3)) / power.sum((1, 2, 3)).clamp_min(1e-12)).mean().item()


def save_filter_grid(weight: Tensor, path: Path, scale: int = 4) -> None:
    """Conv1 filters ``(C, 3, k, k)`` as one PNG grid, each stretched to its own range, enlarged ``scale``x."""
    from torchvision.utils import save_image

    w = weight.detach().float().cpu()
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    w = ((w - lo) / (hi - lo).clamp_min(1e-8)).repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    save_image(w, path, nrow=16, padding=2, pad_value=1.0)
