"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever, Abbeel, NIPS 2016): a GAN whose generator
also reads latent codes c (one categorical, a few continuous U(-1, 1)), and a recognition head Q
on the discriminator that must recover c from G(z, c); both nets minimise -λ·E log Q(c | G(z, c)),
a lower bound on the mutual information I(c; G(z, c)). Nothing tells the codes what to mean.

Measured at validation, against the ShapesWorld classifier and the samples themselves:
``val/code_acc``: the categorical code against the kinds the classifier sees, under the best
one-to-one code -> kind matching (``metrics.code_matching``; chance about 1/K); ``val/code_size_rho``:
the largest |Spearman ρ| between a continuous code and the object's size, read off each sample as
its foreground area (pixels unlike the border's colour; one object on a flat background).
Validation draws the categorical code round-robin and z, the continuous codes from a fixed seed.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.dcgan import DCGAN
from lit_modules.gan import Batch
from lit_modules.losses.infogan import mutual_information_loss
from lit_modules.metrics.code_matching import CodeScores
from lit_modules.nets.infogan import QHead


class InfoGAN(DCGAN):
    """DCGAN nets and objective + InfoGAN's codes and Q head (unconditional).

    Args:
        categorical: values K of the categorical code (paper MNIST: 10).
        continuous: continuous codes, each U(-1, 1) (paper MNIST: 2).
        info_weight: λ of the mutual-information term (paper: 1).
        continuous_weight: weight of the continuous codes inside it (the paper keeps it below the
            categorical code's, sec. 7; see ``losses.infogan``).

    ``latent_dim`` is the noise z alone (paper MNIST: 62); the generator reads z, one-hot c, u.
    The other arguments are ``DCGAN``'s (``num_classes`` must stay 0: the codes replace labels).
    """

    primary_metric = "val/code_acc"

    def __init__(self, categorical: int = 6, continuous: int = 1, info_weight: float = 1.0,
                 continuous_weight: float = 0.1, **kwargs: Any) -> None:
        if categorical < 2 and continuous < 1:
            raise ConfigError(f"model.init_args: InfoGAN needs a code (categorical={categorical}, continuous={continuous})")
        if kwargs.get("num_classes", 0):
            raise ConfigError("model.init_args.num_classes must be 0 for InfoGAN: its codes are learnt without labels")
        self._codes = (categorical, continuous)  # read by latent_extra() during DCGAN.__init__
        super().__init__(**kwargs)
        self.q = QHead(self.critic.num_features, categorical, continuous)
        k = max(categorical, 1)
        gen = torch.Generator().manual_seed(1234)  # grid: row = code value, column = one (z, u), shared by rows
        z = torch.randn(8, self.hparams.latent_dim, generator=gen).repeat(k, 1)  # (8K, latent)
        cat = torch.arange(k).repeat_interleave(8)  # (8K,)
        cont = torch.zeros(8 * k, continuous)
        self.fixed_noise = torch.cat([z, self._one_hot(cat), cont], 1)  # overrides the base's buffer

    def latent_extra(self) -> int:
        return self._codes[0] + self._codes[1]

    def _one_hot(self, cat: Tensor) -> Tensor:
        k = self._codes[0]
        return F.one_hot(cat, k).float() if k else cat.new_zeros(len(cat), 0).float()

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Generator input (n, latent_dim + K + n_cont): z ~ N(0, I), c ~ Cat(K) (one-hot), u ~ U(-1, 1)."""
        k, m = self._codes
        z = torch.randn(n, self.hparams.latent_dim, generator=generator)
        cat = torch.randint(max(k, 1), (n,), generator=generator)
        u = torch.rand(n, m, generator=generator) * 2 - 1
        return torch.cat([z, self._one_hot(cat), u], 1).to(self.device)

    def codes_of(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(categorical (B,), continuous (B, n_cont)) read back from generator inputs."""
        k, _ = self._codes
        d = self.hparams.latent_dim
        cat = inputs[:, d : d + k].argmax(1) if k else inputs.new_zeros(len(inputs), dtype=torch.long)
        return cat, inputs[:, d + k :]

    def info_loss(self, images: Tensor, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """(critic scores, λ·MI loss) of generated ``images`` made from ``inputs``."""
        features, scores = self.critic.features_and_score(images)
        cat_logits, cont_mean = self.q(features)
        cat, cont = self.codes_of(inputs)
        mi = mutual_information_loss(cat_logits, cont_mean, cat, cont, self.hparams.continuous_weight)
        return scores, self.hparams.info_weight * mi

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        real = batch[0]
        opt_g, opt_d = self.optimizers()
        inputs = self.noise(len(real))
        with torch.no_grad():
            fake = self.generator(inputs)
        logs: dict[str, Tensor] = {}

        def d_loss_fn() -> Tensor:  # D and Q: tell real from fake, and recover the fakes' codes
            real_logits = self.critic(real)
            fake_logits, mi = self.info_loss(fake, inputs)
            logs["train/d_real"], logs["train/d_fake"] = real_logits.detach().sigmoid().mean(), fake_logits.detach().sigmoid().mean()
            logs["train/mi_loss"] = mi.detach()
            return self.d_loss(real_logits, fake_logits) + mi + self._penalty("critic")

        def g_loss_fn() -> Tensor:  # G: fool D, and make its codes recoverable by Q
            fresh = self.noise(len(real))
            fake_logits, mi = self.info_loss(self.generator(fresh), fresh)
            return self.g_adversarial(fake_logits) + mi + self._penalty("generator")

        d_loss = self.optimiser_step(opt_d, d_loss_fn, after=self._after("critic"))
        logs["train/d_loss"] = d_loss.detach()
        self._watch(d_loss=d_loss)
        if self.g_step_now():
            g_loss = self.optimiser_step(opt_g, g_loss_fn, after=self._after("generator"))
            self._watch(g_loss=g_loss)
            logs["train/g_loss"] = g_loss.detach()
        self.log_dict(logs, on_step=True, on_epoch=False)

    # --- validation: the codes against the world ------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        k, m = self._codes
        n_kinds = int(getattr(self.quality.features, "num_classes", k)) if self.quality is not None else k
        self._scores_val = CodeScores(k, n_kinds, m)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images = batch[0]
        inputs = self.noise(len(images), self._val_rng)
        k, d = self._codes[0], self.hparams.latent_dim
        if k:  # round-robin categorical code: every value equally often
            cat = (torch.arange(len(images)) + self._scores_val.seen) % k
            inputs[:, d : d + k] = self._one_hot(cat).to(inputs)
        fake = self.generator(inputs)
        if self.quality is None:
            return
        self.quality.update(images, fake)
        cat, cont = self.codes_of(inputs)
        self._scores_val.update(cat, self.quality.features.logits(fake), cont, fake)

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.log_dict({f"val/{key}": v for key, v in self._scores_val.compute().items()}, prog_bar=True)

    @torch.no_grad()
    def traversal(self, code: int, steps: int = 8, columns: int = 8) -> Tensor:
        """Samples (steps*columns, 3, S, S): row i sets continuous code ``code`` to linspace(-1, 1)[i]
        (the categorical code and z fixed per column)."""
        k, m = self._codes
        if not 0 <= code < m:
            raise ConfigError(f"continuous code {code} is outside 0..{m - 1}")
        base = self.noise(columns, torch.Generator().manual_seed(1234)).repeat(steps, 1)  # (steps*columns, D)
        base[:, self.hparams.latent_dim + k + code] = torch.linspace(-1, 1, steps).repeat_interleave(columns).to(base)
        was = self.generator.training
        self.generator.eval()
        try:
            return self.generator(base)
        finally:
            self.generator.train(was)

    def wandb_media(self, batch: Batch, outputs: object) -> dict:
        import wandb

        from lit_modules.media import sample_grid

        media = {"val/samples": wandb.Image(sample_grid(self.samples(), nrow=8),
                                            caption=f"row = categorical code value, epoch {self.current_epoch}")}
        for j in range(self._codes[1]):
            media[f"val/traversal_{j}"] = wandb.Image(sample_grid(self.traversal(j), nrow=8),
                                                      caption=f"row = continuous code {j} from -1 to 1")
        return media

    def d_parameters(self) -> list:
        return [*self.critic.parameters(), *self.q.parameters()]  # Q trains with D (shared body)
