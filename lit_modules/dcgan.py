"""DCGAN (Radford, Metz, Chintala, ICLR 2016): the non-saturating GAN with the DCGAN nets.

Each training batch: one discriminator step on the real batch and as many fakes
(-log D(x) - log(1 - D(G(z)))), then one generator step on fresh z (-log D(G(z))).
Paper recipe: Adam lr 2e-4, beta1 0.5, batch 128, N(0, 0.02) init, BN in both nets.
Logs ``train/d_loss``, ``train/g_loss`` and ``train/d_real``/``train/d_fake`` (mean D outputs).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from lit_modules.gan import Batch, GANModule
from lit_modules.losses.gan import d_loss_bce, g_loss_nonsaturating
from lit_modules.nets.gan import Norm
from lit_modules.optim import make_optimizer


class DCGAN(GANModule):
    """Unconditional or class-conditional DCGAN.

    The nets' and metrics' arguments are ``GANModule``'s (paper at 64 px: latent 100, widths 128).

    Args:
        norm: discriminator normalisation (paper: "batch").
        lr: Adam learning rate of both nets (paper: 2e-4).
        beta1: Adam beta1 (paper: 0.5; 0.9 oscillates).
    """

    def __init__(
        self,
        norm: Norm = "batch",
        lr: float = 2e-4,
        beta1: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)  # the base saves every argument as a hyper-parameter
        self._build(norm)

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        real, y, fake = self.real_and_fakes(batch)
        opt_g, opt_d = self.optimizers()
        logits: dict[str, Tensor] = {}

        def d_loss_fn() -> Tensor:
            logits["real"], logits["fake"] = self.critic(real, y), self.critic(fake, y)
            return d_loss_bce(logits["real"], logits["fake"])

        d_loss = self.optimiser_step(opt_d, d_loss_fn)
        g_loss = self.optimiser_step(opt_g, lambda: g_loss_nonsaturating(self.score_new_fakes(len(real), y)))
        self._watch(d_loss=d_loss, g_loss=g_loss)
        self._log_train(d_loss, g_loss, logits["real"], logits["fake"])

    def _log_train(self, d_loss: Tensor, g_loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> None:
        self.log_dict({"train/d_loss": d_loss.detach(), "train/g_loss": g_loss.detach(),
                       "train/d_real": real_logits.detach().sigmoid().mean(),
                       "train/d_fake": fake_logits.detach().sigmoid().mean()}, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        h = self.hparams
        betas = (h.beta1, 0.999)
        lr = h.lr * getattr(self, "lr_scale", 1.0)  # experiments.scaling
        return [make_optimizer(self.generator.parameters(), "adam", lr, betas=betas),
                make_optimizer(self.critic.parameters(), "adam", lr, betas=betas)]
