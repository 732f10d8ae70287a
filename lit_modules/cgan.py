"""Conditional GAN (Mirza & Osindero, arXiv 2014): generator and discriminator both see the class y,
so G(z, y) learns p(x | y) and a user picks the class of each sample.

The generator concatenates a learned embedding of y to z. The discriminator reads y either as
one-hot planes concatenated to the image (``conditioning="concat"``, the paper's form: y joins the
input) or through a projection term <embed(y), φ(x)> added to its score (``"projection"``,
Miyato & Koyama 2018, the form later conditional GANs use). Objective, nets and the improved-GAN
switches are DCGAN's. Measured: ``val/cond_acc`` (the ShapesWorld classifier labels each sample
with the class asked for) and ``val/fid_shapes_<kind>`` beside the overall FID/KID.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import ConfigError
from lit_modules.dcgan import DCGAN
from lit_modules.nets.gan import Conditioning


class CGAN(DCGAN):
    """Class-conditional DCGAN.

    Args:
        num_classes: classes of the data (> 0; ShapesWorld: the kinds).
        conditioning: how the discriminator reads y: "projection" or "concat" (Mirza & Osindero).

    The other arguments are ``DCGAN``'s and ``GANModule``'s.
    """

    primary_metric = "val/cond_acc"

    def __init__(self, num_classes: int, conditioning: Conditioning = "projection", **kwargs: Any) -> None:
        if num_classes < 1:
            raise ConfigError(f"model.init_args.num_classes must be >= 1 for a conditional GAN, got {num_classes}")
        if conditioning not in ("projection", "concat"):
            raise ConfigError(f"model.init_args.conditioning must be 'projection' or 'concat', got {conditioning!r}")
        super().__init__(num_classes=num_classes, **kwargs)  # DCGAN reads hparams.conditioning
