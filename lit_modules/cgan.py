"""Conditional GAN (Mirza & Osindero, arXiv 2014): generator and discriminator both see the class y,
so G(z, y) learns p(x | y) and a user picks the class of each sample.

The generator concatenates a learned embedding of y to z. The discriminator reads y either as
one-hot planes concatenated to the image (``conditioning="concat"``, the paper's form: y joins the
input) or through a projection term <embed(y), φ(x)> added to its score (``"projection"``,
Miyato & Koyama 2018, the form later conditional GANs use), or predicts it (``"auxiliary"``: AC-GAN,
Odena, Olah & Shlens 2017: the discriminator also minimises the class cross-entropy on real and fake
images, the generator minimises it on its fakes, weighted ``aux_weight``). Objective, nets and the
improved-GAN switches are DCGAN's. Measured: ``val/cond_acc`` (the ShapesWorld classifier labels each sample
with the class asked for) and ``val/fid_shapes_<kind>`` beside the overall FID/KID.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.dcgan import DCGAN
from lit_modules.gan import Batch
from lit_modules.nets.gan import Conditioning, GConditioning


class CGAN(DCGAN):
    """Class-conditional DCGAN.

    Args:
        num_classes: classes of the data (> 0; ShapesWorld: the kinds).
        conditioning: how the discriminator uses y: "projection", "concat" (Mirza & Osindero) or
            "auxiliary" (AC-GAN: it predicts y).
        aux_weight: weight of AC-GAN's class cross-entropy in both nets' losses ("auxiliary" only).
        aux_on_fakes: the discriminator's class head also learns the asked class of the fakes (AC-GAN as
            published). False: it learns from real images only, so it is a classifier of real shapes that
            the generator's samples must satisfy, and cannot learn to recognise the generator's own
            per-class patterns ("auxiliary" only).
        g_conditioning: how the generator uses y: "concat" (an embedding beside z, Mirza & Osindero) or
            "batchnorm" (class-conditional BatchNorm gain and bias at every layer; Miyato & Koyama 2018).

    The other arguments are ``DCGAN``'s and ``GANModule``'s.
    """

    primary_metric = "val/cond_acc"

    def __init__(self, num_classes: int, conditioning: Conditioning = "projection", aux_weight: float = 1.0,
                 aux_on_fakes: bool = True, g_conditioning: GConditioning = "concat", **kwargs: Any) -> None:
        if num_classes < 1:
            raise ConfigError(f"model.init_args.num_classes must be >= 1 for a conditional GAN, got {num_classes}")
        if conditioning not in ("projection", "concat", "auxiliary"):
            raise ConfigError("model.init_args.conditioning must be 'projection', 'concat' or 'auxiliary', "
                              f"got {conditioning!r}")
        if g_conditioning not in ("concat", "batchnorm"):
            raise ConfigError(f"model.init_args.g_conditioning must be 'concat' or 'batchnorm', got {g_conditioning!r}")
        super().__init__(num_classes=num_classes, **kwargs)  # DCGAN reads hparams.(g_)conditioning

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        if self.hparams.conditioning != "auxiliary":
            return super().training_step(batch, batch_idx)
        real, y, fake = self.real_and_fakes(batch)
        opt_g, opt_d = self.optimizers()
        critic, w = self.critic, self.hparams.aux_weight
        logits: dict[str, Tensor] = {}

        def d_loss_fn() -> Tensor:
            (real_f, logits["real"]), (fake_f, logits["fake"]) = critic.features_and_score(real, y), critic.features_and_score(fake, y)
            logits["aux"] = F.cross_entropy(critic.class_logits(real_f), y)
            if self.hparams.aux_on_fakes:
                logits["aux"] = logits["aux"] + F.cross_entropy(critic.class_logits(fake_f), y)
            return self.d_loss(logits["real"], logits["fake"]) + w * logits["aux"] + self._penalty("critic")

        def g_loss_fn() -> Tensor:
            fresh = self.generator(self.noise(len(real)), y)
            features, score = critic.features_and_score(fresh, y)
            adv = self.g_loss(real, fresh, y) if "feature_matching" in self.improved else self.g_adversarial(score)
            return adv + w * F.cross_entropy(critic.class_logits(features), y) + self._penalty("generator")

        d_loss = self.optimiser_step(opt_d, d_loss_fn, after=self._after("critic"))
        g_loss = self.optimiser_step(opt_g, g_loss_fn, after=self._after("generator")) if self.g_step_now() else None
        self._watch(d_loss=d_loss, **({"g_loss": g_loss} if g_loss is not None else {}))
        self._log_train(d_loss, g_loss, logits["real"], logits["fake"])
        self.log("train/d_class_ce", logits["aux"].detach(), on_step=True, on_epoch=False)
