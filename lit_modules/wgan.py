"""WGAN (Arjovsky, Chintala, Bottou, ICML 2017) and WGAN-GP (Gulrajani et al., NIPS 2017).

The critic f maximises E[f(x)] - E[f(G(z))], an estimate of the Wasserstein-1 distance if f is
1-Lipschitz; the generator minimises -E[f(G(z))]. ``lipschitz`` picks how f is kept Lipschitz:
"clip" clamps every critic weight to [-clip, clip] after each step (WGAN: RMSProp 5e-5, clip 0.01,
n_critic 5); "gp" adds λ·(‖∇f(x̂)‖₂ - 1)² at random interpolates (WGAN-GP: Adam 1e-4,
betas (0, 0.9), λ 10, n_critic 5, and no batch norm in the critic). One critic step per batch,
one generator step every ``n_critic`` batches (so each critic step sees fresh real data, as in
the papers; WGAN's extra 100-step critic bursts early on are left out). Logs ``train/d_loss``,
``train/g_loss``, ``train/wasserstein`` (the critic's estimate, the papers' learning curve) and,
for "gp", ``train/gp``.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.gan import Batch, GANModule
from lit_modules.losses.gan import (
    clip_weights_,
    critic_loss_wasserstein,
    generator_loss_wasserstein,
    gradient_penalty,
    wasserstein_estimate,
)
from lit_modules.nets.gan import Norm
from lit_modules.optim import make_optimizer

# lipschitz -> (optimizer, lr, betas, critic norm) of the paper
PAPER = {"clip": ("rmsprop", 5e-5, (0.5, 0.999), "batch"), "gp": ("adam", 1e-4, (0.0, 0.9), "layer")}


class WGAN(GANModule):
    """WGAN with weight clipping or gradient penalty, unconditional or class-conditional.

    Args:
        lipschitz: "clip" (WGAN) or "gp" (WGAN-GP).
        norm: critic normalisation; None = the paper's ("batch" for clip, "layer" for gp).
            "batch" with "gp" is refused: the penalty is per sample and BN mixes samples.
        n_critic: critic steps per generator step (papers: 5).
        clip: weight-clipping bound ("clip"; paper 0.01).
        gp_weight: gradient-penalty λ ("gp"; paper 10).
        optimizer: "rmsprop" or "adam"; None = the paper's for ``lipschitz``.
        lr: learning rate of both nets; None = the paper's (5e-5 clip, 1e-4 gp).
        lr_scale: multiplies ``lr``: a minutes-long demo can raise the papers' rates and keep
            their ratio when a sweep flips ``lipschitz``.
        betas: Adam betas; None = the paper's ((0, 0.9) for gp).

    The nets' and metrics' arguments are ``GANModule``'s.
    """

    @staticmethod
    def method_name(hparams: dict) -> str:
        return "WGAN-GP" if hparams.get("lipschitz") == "gp" else "WGAN"

    def __init__(
        self,
        lipschitz: Literal["clip", "gp"] = "clip",
        norm: Norm | None = None,
        n_critic: int = 5,
        clip: float = 0.01,
        gp_weight: float = 10.0,
        optimizer: Literal["rmsprop", "adam"] | None = None,
        lr: float | None = None,
        lr_scale: float = 1.0,
        betas: tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if lipschitz not in PAPER:
            raise ConfigError(f"model.init_args.lipschitz must be 'clip' or 'gp', got {lipschitz!r}")
        super().__init__(**kwargs)  # the base saves every argument as a hyper-parameter
        paper_opt, paper_lr, paper_betas, paper_norm = PAPER[lipschitz]
        self.opt_name = optimizer or paper_opt
        self.lr = (lr if lr is not None else paper_lr) * lr_scale
        self.betas = tuple(float(b) for b in betas) if betas is not None else paper_betas
        norm = norm or paper_norm
        if lipschitz == "gp" and norm == "batch":
            raise ConfigError("model.init_args.norm='batch' with lipschitz='gp': the gradient penalty is per sample "
                              "and batch norm couples the samples (WGAN-GP paper, sec. 4); use 'layer' or 'none'")
        if n_critic < 1:
            raise ConfigError(f"model.init_args.n_critic must be >= 1, got {n_critic}")
        self._build(norm)

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        h = self.hparams
        real, y, fake = self.real_and_fakes(batch)
        opt_g, opt_d = self.optimizers()
        watch: dict[str, Tensor] = {}
        logs: dict[str, Tensor] = {}

        def critic_loss_fn() -> Tensor:
            real_scores, fake_scores = self.critic(real, y), self.critic(fake, y)
            watch["d_loss"] = d_loss = critic_loss_wasserstein(real_scores, fake_scores)
            logs["train/d_loss"] = d_loss.detach()
            logs["train/wasserstein"] = wasserstein_estimate(real_scores, fake_scores).detach()
            if h.lipschitz != "gp":
                return d_loss
            watch["gp"] = gp = gradient_penalty(lambda x: self.critic(x, y), real, fake, h.gp_weight)
            logs["train/gp"] = gp.detach()
            return d_loss + gp

        clip = (lambda: clip_weights_(self.critic, h.clip)) if h.lipschitz == "clip" else None
        self.optimiser_step(opt_d, critic_loss_fn, after=clip)
        self._watch(**watch)
        if (self._batches + 1) % h.n_critic == 0:
            g_loss = self.optimiser_step(opt_g, lambda: generator_loss_wasserstein(self.score_new_fakes(len(real), y)))
            self._watch(g_loss=g_loss)
            logs["train/g_loss"] = g_loss.detach()
        self.log_dict(logs, on_step=True, on_epoch=False)

    def configure_optimizers(self):
        # Two optimisers at a constant rate, as both papers (no schedule).
        lr = self.lr * getattr(self, "lr_scale", 1.0)  # experiments.scaling
        return [make_optimizer(net.parameters(), self.opt_name, lr, betas=self.betas or (0.9, 0.999))
                for net in (self.generator, self.critic)]
