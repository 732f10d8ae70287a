"""DCGAN (Radford, Metz, Chintala, ICLR 2016): the non-saturating GAN with the DCGAN nets.

Each training batch: one discriminator step on the real batch and as many fakes
(-log D(x) - log(1 - D(G(z)))), then one generator step on fresh z (-log D(G(z))).
Paper recipe: Adam lr 2e-4, beta1 0.5, batch 128, N(0, 0.02) init, BN in both nets.
Logs ``train/d_loss``, ``train/g_loss`` and ``train/d_real``/``train/d_fake`` (mean D outputs).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lit_modules.gan import Batch, GANModule
from lit_modules.losses.gan import d_loss_bce, g_loss_nonsaturating
from lit_modules.nets.gan import Norm
from lit_modules.optim import make_optimizer


class DCGAN(GANModule):
    """Unconditional or class-conditional DCGAN.

    Args:
        image_size: generated side, a power of two >= 16 (must match the data).
        latent_dim: size of z (paper: 100).
        g_width: generator width (channels before the output layer; paper at 64 px: 128).
        d_width: discriminator width (channels of its first conv; paper: 128).
        norm: discriminator normalisation (paper: "batch").
        num_classes: 0 = unconditional; > 0: conditional on labels (must match the data).
        embed_dim: class-embedding size in the generator (conditional only).
        lr: Adam learning rate of both nets (paper: 2e-4).
        beta1: Adam beta1 (paper: 0.5; 0.9 oscillates).
        features: FID/KID feature net: "shapes" (the shipped ShapesWorld classifier), a path to
            another such checkpoint, or None (no sample-quality metrics).
        inception_weights: a local torchvision Inception-v3 state dict; if given, used instead.
        kid_subset_size: KID subset size.
        media_samples: fixed-noise samples in the W&B grid.
        finite_check_every: check the losses for NaN/inf every this many batches (one host sync);
            0 = only at epoch ends.
    """

    def __init__(
        self,
        image_size: int = 32,
        latent_dim: int = 100,
        g_width: int = 64,
        d_width: int = 64,
        norm: Norm = "batch",
        num_classes: int = 0,
        embed_dim: int = 16,
        lr: float = 2e-4,
        beta1: float = 0.5,
        features: str | None = "shapes",
        inception_weights: str | None = None,
        kid_subset_size: int = 100,
        media_samples: int = 64,
        finite_check_every: int = 50,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self._build(norm)

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        real, labels = batch
        y = self._labels_for(labels, len(real))
        opt_g, opt_d = self.optimizers()

        self.toggle_optimizer(opt_d)
        with torch.no_grad():
            fake = self.generator(self.noise(len(real)), y)
        real_logits, fake_logits = self.critic(real, y), self.critic(fake, y)
        d_loss = d_loss_bce(real_logits, fake_logits)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        g_loss = g_loss_nonsaturating(self.critic(self.generator(self.noise(len(real)), y), y))
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self._watch(d_loss=d_loss, g_loss=g_loss)
        self._log_train(d_loss, g_loss, real_logits, fake_logits)

    def _log_train(self, d_loss: Tensor, g_loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> None:
        self.log_dict({"train/d_loss": d_loss.detach(), "train/g_loss": g_loss.detach(),
                       "train/d_real": real_logits.detach().sigmoid().mean(),
                       "train/d_fake": fake_logits.detach().sigmoid().mean()}, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        h = self.hparams
        betas = (h.beta1, 0.999)
        return [make_optimizer(self.generator.parameters(), "adam", h.lr, betas=betas),
                make_optimizer(self.critic.parameters(), "adam", h.lr, betas=betas)]
