"""DCGAN (Radford, Metz, Chintala, ICLR 2016): the non-saturating GAN with the DCGAN nets, and the
switches of "Improved Techniques for Training GANs" (Salimans et al., NIPS 2016).

Each training batch: one discriminator step on the real batch and as many fakes
(-log D(x) - log(1 - D(G(z)))), then one generator step on fresh z (-log D(G(z))).
Paper recipe: Adam lr 2e-4, beta1 0.5, batch 128, N(0, 0.02) init, BN in both nets.
``improvements`` (any subset; Salimans et al. section): "feature_matching" (3.1: the generator
minimises ||E f(x) - E f(G(z))||² over the critic's last conv features instead of -log D(G(z))),
"minibatch_discrimination" (3.2: a layer that lets D compare each sample with the rest of the batch),
"historical_averaging" (3.3: both nets pay ``historical_weight``·||θ - mean of past θ||²),
"label_smoothing" (3.4, one-sided: real targets ``real_label``, fake targets stay 0).
``loss="hinge"`` swaps the BCE pair for SNGAN's hinge loss (Miyato et al. 2018), and ``n_dis`` > 1
takes one generator step every ``n_dis`` batches (one discriminator step per batch), as WGAN's n_critic.
Logs ``train/d_loss``, ``train/g_loss`` and ``train/d_real``/``train/d_fake`` (mean D outputs).
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.gan import Batch, GANModule
from lit_modules.losses.gan import (
    HistoricalAverage,
    d_loss_bce,
    d_loss_hinge,
    feature_matching_loss,
    g_loss_hinge,
    g_loss_nonsaturating,
)
from lit_modules.nets.gan import Norm
from lit_modules.optim import make_optimizer

Improvement = Literal["feature_matching", "minibatch_discrimination", "historical_averaging", "label_smoothing"]
IMPROVEMENTS = Improvement.__args__


class DCGAN(GANModule):
    """Unconditional or class-conditional DCGAN, with Salimans et al.'s switches.

    The nets' and metrics' arguments are ``GANModule``'s (paper at 64 px: latent 100, widths 128).

    Args:
        norm: discriminator normalisation (paper: "batch").
        lr: Adam learning rate of both nets (paper: 2e-4).
        beta1: Adam beta1 (paper: 0.5; 0.9 oscillates; SNGAN: 0).
        beta2: Adam beta2 (paper: 0.999; SNGAN: 0.9).
        loss: "bce" (the paper's non-saturating GAN loss) or "hinge" (SNGAN's).
        n_dis: discriminator steps (batches) per generator step (paper: 1; SNGAN: 1 to 5).
        improvements: which of Salimans et al.'s techniques are on (default none: plain DCGAN).
        real_label: the real target under "label_smoothing" (Salimans et al.: 0.9).
        minibatch_kernels: kernels of the minibatch-discrimination layer (its output width).
        historical_weight: weight of the historical-averaging penalty.
    """

    def __init__(
        self,
        norm: Norm = "batch",
        lr: float = 2e-4,
        beta1: float = 0.5,
        beta2: float = 0.999,
        loss: Literal["bce", "hinge"] = "bce",
        n_dis: int = 1,
        improvements: list[Improvement] = [],  # noqa: B006 (jsonargparse needs a literal default; never mutated)
        real_label: float = 0.9,
        minibatch_kernels: int = 32,
        historical_weight: float = 1.0,
        **kwargs: Any,
    ) -> None:
        unknown = [i for i in improvements if i not in IMPROVEMENTS]
        if unknown:
            raise ConfigError(f"model.init_args.improvements: unknown {unknown}; choose from {list(IMPROVEMENTS)}")
        if loss not in ("bce", "hinge"):
            raise ConfigError(f"model.init_args.loss must be 'bce' or 'hinge', got {loss!r}")
        if loss == "hinge" and "label_smoothing" in improvements:
            raise ConfigError("model.init_args.improvements: label_smoothing softens BCE targets; the hinge loss "
                              "has none (use loss: bce, or drop label_smoothing)")
        if n_dis < 1:
            raise ConfigError(f"model.init_args.n_dis must be >= 1, got {n_dis}")
        if not 0.0 < real_label <= 1.0:
            raise ConfigError(f"model.init_args.real_label must be in (0, 1], got {real_label}")
        super().__init__(**kwargs)  # the base saves every argument as a hyper-parameter
        self.improved = frozenset(improvements)
        self._build(norm, self.hparams.get("conditioning", "projection"),
                    minibatch_kernels if "minibatch_discrimination" in self.improved else 0,
                    self.latent_extra())
        self.history = ({net: HistoricalAverage(getattr(self, net), historical_weight) for net in ("generator", "critic")}
                        if "historical_averaging" in self.improved else {})

    def latent_extra(self) -> int:
        """Generator inputs beside z (InfoGAN's codes); 0 here."""
        return 0

    def _penalty(self, net: str) -> Tensor | float:
        return self.history[net].penalty() if net in self.history else 0.0

    def _after(self, net: str):
        return self.history[net].update if net in self.history else None

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        if self.hparams.get("loss", "bce") == "hinge":
            return d_loss_hinge(real_logits, fake_logits)
        real_label = self.hparams.real_label if "label_smoothing" in self.improved else 1.0
        return d_loss_bce(real_logits, fake_logits, real_label)

    def g_loss(self, real: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        """The generator's adversarial loss for its fresh ``fake`` batch."""
        if "feature_matching" in self.improved:
            real_features, _ = self.critic.features_and_score(real, y)
            return feature_matching_loss(real_features, self.critic.features_and_score(fake, y)[0])
        return self.g_adversarial(self.critic(fake, y))

    def g_adversarial(self, fake_logits: Tensor) -> Tensor:
        """The generator's side of ``loss``: -log D(G(z)) (bce) or -D(G(z)) (hinge)."""
        return g_loss_hinge(fake_logits) if self.hparams.get("loss", "bce") == "hinge" else g_loss_nonsaturating(fake_logits)

    def g_step_now(self) -> bool:
        """Whether this batch also takes a generator step (every ``n_dis``-th batch)."""
        return (self._batches + 1) % self.hparams.get("n_dis", 1) == 0

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        real, y, fake = self.real_and_fakes(batch)
        opt_g, opt_d = self.optimizers()
        logits: dict[str, Tensor] = {}

        def d_loss_fn() -> Tensor:
            logits["real"], logits["fake"] = self.critic(real, y), self.critic(fake, y)
            return self.d_loss(logits["real"], logits["fake"]) + self._penalty("critic")

        def g_loss_fn() -> Tensor:
            fresh = self.generator(self.noise(len(real)), y)
            return self.g_loss(real, fresh, y) + self._penalty("generator")

        d_loss = self.optimiser_step(opt_d, d_loss_fn, after=self._after("critic"))
        g_loss = self.optimiser_step(opt_g, g_loss_fn, after=self._after("generator")) if self.g_step_now() else None
        self._watch(d_loss=d_loss, **({"g_loss": g_loss} if g_loss is not None else {}))
        self._log_train(d_loss, g_loss, logits["real"], logits["fake"])

    def _log_train(self, d_loss: Tensor, g_loss: Tensor | None, real_logits: Tensor, fake_logits: Tensor) -> None:
        logs = {"train/d_loss": d_loss.detach(), "train/d_real": real_logits.detach().sigmoid().mean(),
                "train/d_fake": fake_logits.detach().sigmoid().mean()}
        if g_loss is not None:
            logs["train/g_loss"] = g_loss.detach()
        self.log_dict(logs, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        h = self.hparams
        betas = (h.beta1, h.get("beta2", 0.999))
        lr = h.lr * getattr(self, "lr_scale", 1.0)  # experiments.scaling
        return [make_optimizer(self.generator.parameters(), "adam", lr, betas=betas),
                make_optimizer(self.d_parameters(), "adam", lr, betas=betas)]

    def d_parameters(self) -> list:
        """What the discriminator's optimiser steps (InfoGAN adds its Q head)."""
        return list(self.critic.parameters())
