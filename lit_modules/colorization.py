"""Colourisation — "Colorful Image Colorization" (Zhang, Isola & Efros 2016).

The idea: from the lightness L of an image alone, predict its colour ab (CIE Lab). Which colour
a thing has depends on what it is, so the encoder must recognise things. Zhang et al. make it a
*classification* over quantised ab bins rather than a regression (a regression to the mean turns
every uncertain pixel grey), with soft targets over the 5 nearest bins and *class rebalancing*:
each pixel's loss is weighted by the rarity of its colour, so the many greyish background
pixels do not drown the saturated ones (Sec. 2.1-2.2; ``ops.colour``).

The encoder sees grey images (luma in all three channels) in pre-training, in the online probe
and kNN (``features``), and in linear evaluation (``LinearEval(grey_input=true)``), as the paper
evaluates on L (Sec. 3.2). The class prior of the rebalancing is counted during training from
the batches seen so far (the paper counts it over ImageNet beforehand) and saved with the weights.
Run on grey data, the targets are all one bin: the first training batch is checked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from contracts.errors import ConfigError
from contracts.hooks import hook
from lit_modules.data_checks import datamodule_of
from lit_modules.nets.pretext import ColourDecoder, spatial_features, upsample_to
from lit_modules.ops.colour import (
    ab_bins,
    annealed_mean,
    lab_to_rgb,
    quantise,
    rebalance_weights,
    rgb_to_lab,
    soft_encode,
)
from lit_modules.pretext import PretextModule, grid_picture

MIN_CHROMA = 2.0  # largest |a|, |b| of a batch below which it counts as grey (ab spans about +-100)


class Colorization(PretextModule):
    """Colourisation as classification over ab bins; encoder, optimiser and evaluation arguments are ``SSLModule``'s.

    Args:
        bin_size: side of the ab bins (10 in the paper).
        neighbours: bins of a soft target (5).
        sigma: Gaussian width of the soft targets and of the prior's smoothing (5).
        rebalance: lambda, the weight of the uniform distribution in the rebalancing (0.5; 1 = no rebalancing).
        temperature: of the annealed-mean decoding (0.38), for the pictures only.
        hidden: channels of the decoder.
    """

    method_label = "Colorization"
    media_caption = "grey input | colourised (annealed mean) | original"

    def __init__(self, num_classes: int = 1000, bin_size: float = 10.0, neighbours: int = 5, sigma: float = 5.0,
                 rebalance: float = 0.5, temperature: float = 0.38, hidden: int = 128, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if not 0.0 <= rebalance <= 1.0:
            raise ConfigError(f"model.init_args.rebalance={rebalance} must lie in [0, 1] (the paper: 0.5)")
        centres = ab_bins(bin_size)  # (Q, 2)
        self.register_buffer("centres", centres)
        self.register_buffer("bin_counts", torch.zeros(len(centres)))  # the rebalancing's prior, counted as we go
        self.head = ColourDecoder(self.feat_dim, len(centres), hidden)
        self._colour_checked = False

    def features(self, images: Tensor) -> Tensor:
        return self.backbone(self.grey(images))  # the encoder only ever sees grey

    def pretext(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        lab = rgb_to_lab(self.grey.rgb(x))  # (B, 3, H, W): L in [0, 100], ab in about [-110, 110]
        if self.training and not self._colour_checked:
            self._check_colour(lab)
        fmap = spatial_features(self.backbone, self.grey(x))  # (B, F, h, w)
        logits = self.head(fmap)  # (B, Q, 4h, 4w)
        ab = F.adaptive_avg_pool2d(lab[:, 1:], logits.shape[-2:])  # (B, 2, 4h, 4w) targets at the output's side
        return logits, ab.permute(0, 2, 3, 1).reshape(-1, 2), fmap.mean((2, 3))  # (N, 2) targets, (B, F)

    def pretext_loss(self, logits: Tensor, ab: Tensor) -> Tensor:
        h = self.hparams
        z = soft_encode(ab, self.centres, h.neighbours, h.sigma)  # (N, Q)
        nearest = z.argmax(1)  # (N,)
        if self.training:
            self.bin_counts += torch.bincount(nearest, minlength=len(self.centres)).to(self.bin_counts)
        w = rebalance_weights(self.bin_counts.clamp(min=0) + 1e-3, self.centres, h.rebalance, h.sigma)[nearest]  # (N,)
        logp = F.log_softmax(logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1]), 1)  # (N, Q)
        return (w * -(z * logp).sum(1)).mean()  # Zhang Eq. 2 with v(Z) = w of the nearest bin

    def pretext_accuracy(self, logits: Tensor, ab: Tensor) -> Tensor:
        pred = logits.argmax(1).flatten()  # (B*h*w,) in the same order as the targets
        return (pred == quantise(ab, self.centres)).float().mean()

    def _check_colour(self, lab: Tensor) -> None:
        chroma = float(lab[:, 1:].abs().amax())
        if chroma < MIN_CHROMA:
            describe = hook(datamodule_of(self), "describe")
            where = f" of {describe()}" if callable(describe) else ""
            raise ConfigError(f"colourisation needs colour images, but the first training batch{where} is grey "
                              f"(largest |a|, |b| = {chroma:.2f}); train it on colour data")
        self._colour_checked = True

    def colourise(self, x: Tensor) -> Tensor:
        """RGB ``(B, 3, H, W)`` in [0, 1]: the true L with the predicted ab (annealed mean, upsampled)."""
        lab = rgb_to_lab(self.grey.rgb(x))
        logits = self.head(spatial_features(self.backbone, self.grey(x)))
        ab = upsample_to(annealed_mean(logits, self.centres, self.hparams.temperature), lab.shape[-2:])
        return lab_to_rgb(torch.cat([lab[:, :1], ab], 1)).clamp(0, 1)

    def media(self, images: Tensor) -> np.ndarray:
        grey, out, rgb = self.grey.rgb(self.grey(images)), self.colourise(images), self.display(images)
        return grid_picture([[grey[i], out[i], rgb[i]] for i in range(len(images))])
