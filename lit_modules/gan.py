"""The GAN family's base: generator + discriminator/critic, fixed-noise sample grids, FID/KID/mode
coverage at validation, and a divergence guard. ``dcgan.py`` and ``wgan.py`` add the objective.

Batch contract (``datamodules.generation``): images float32 (B, 3, S, S) in [-1, 1] and labels
int64 (B,) (-1 where the data has no classes). Training uses Lightning's manual optimisation:
optimizers ``[generator, discriminator]``; a subclass's ``training_step`` runs the updates.
Validation draws one fake per real image (same labels when conditional, noise re-seeded each
epoch so epochs are compared on the same z) and logs ``val/fid_<features>``,
``val/kid_<features>``, ``val/mode_coverage`` and the Inception score in that feature space
(``val/is_<features>``, Salimans et al. 2016: with the ShapesWorld classifier its ceiling is the 6 kinds).
A conditional model also logs ``val/cond_acc`` (the classifier labels each sample with the class it
was asked for) and one FID per class (``val/fid_shapes_<kind>``), when the classifier's kinds are the data's classes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.media import sample_grid
from lit_modules.metrics.conditional import ConditionalQuality
from lit_modules.metrics.features import InceptionFeatures, load_shapes_features
from lit_modules.metrics.sample_quality import SampleQuality
from lit_modules.nets.gan import Conditioning, Discriminator, Generator, Norm, Upsample

Batch = tuple[Tensor, Tensor]


class DivergenceError(FloatingPointError):
    """A GAN loss became NaN or infinite; the message names the loss and the step."""


class GANModule(L.LightningModule):
    """Shared parts of DCGAN and WGAN: the two nets, sampling, FID/KID, the divergence guard.

    A subclass declares only its own arguments (the discriminator's ``norm``, its losses and
    optimisers), passes these on as ``**kwargs`` and calls ``_build(norm)``.

    Args:
        image_size: generated side, a power of two >= 16 (must match the data).
        latent_dim: size of z (papers: 100 / 128).
        g_width: generator width (channels before the output layer).
        g_upsample: how the generator doubles its side: "transposed" (DCGAN's 4x4 stride-2 transposed
            convs) or "nearest" (nearest upsampling + 3x3 conv, no checkerboard artefacts).
        d_width: discriminator/critic width (channels of its first conv).
        num_classes: 0 = unconditional; > 0: conditional on labels (must match the data).
        embed_dim: class-embedding size in the generator (conditional only).
        media_samples: fixed-noise samples in the W&B grid.
        finite_check_every: check the losses for NaN/inf every this many batches (one host sync);
            0 = only at epoch ends.
        kid_subset_size: KID subset size.
        features: FID/KID feature net: "shapes" (the shipped ShapesWorld classifier), a path to
            another such checkpoint, or None (no sample-quality metrics).
        inception_weights: a local torchvision Inception-v3 state dict; if given, used instead.
    """

    primary_metric = "val/fid_shapes"

    automatic_optimization = False

    def __init__(
        self,
        image_size: int = 32,
        latent_dim: int = 100,
        g_width: int = 64,
        d_width: int = 64,
        g_upsample: Upsample = "transposed",
        num_classes: int = 0,
        embed_dim: int = 16,
        media_samples: int = 64,
        finite_check_every: int = 50,
        kid_subset_size: int = 100,
        features: str | None = "shapes",
        inception_weights: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's arguments too: Lightning walks up to its __init__

    def _build(self, norm: Norm, conditioning: Conditioning = "projection", minibatch_kernels: int = 0,
               latent_extra: int = 0) -> None:
        """The nets; ``latent_extra`` widens the generator's input (InfoGAN's codes beside z)."""
        h = self.hparams
        self.generator = Generator(h.latent_dim + latent_extra, h.image_size, h.g_width, 3, h.num_classes, h.embed_dim,
                                   h.get("g_conditioning", "concat"), h.get("g_upsample", "transposed"))
        self.critic = Discriminator(h.image_size, h.d_width, 3, norm, h.num_classes, conditioning, minibatch_kernels)
        gen = torch.Generator().manual_seed(1234)  # the same grid for every run and seed
        self.register_buffer("fixed_noise", torch.randn(h.media_samples, h.latent_dim, generator=gen))
        self.register_buffer("fixed_labels", torch.arange(h.media_samples) % max(1, h.num_classes))
        self.quality = self._quality()
        kinds = list(getattr(self.quality.features, "kinds", ()) if self.quality is not None else ())
        self.cond_quality = (ConditionalQuality(self.quality.features, kinds, self.quality.tag)
                             if self.conditional and len(kinds) == h.num_classes else None)
        self._cond_ok = self.cond_quality is not None
        self._batches = 0  # training batches seen by this process (for n_critic and the guard)
        self._first_bad: dict[str, Tensor] = {}

    def _quality(self) -> SampleQuality | None:
        h = self.hparams
        if h.inception_weights:
            try:
                inception = InceptionFeatures(h.inception_weights)
            except FileNotFoundError as e:
                raise ConfigError(f"model.init_args.inception_weights: {e}") from e
            return SampleQuality(inception, "inception", h.kid_subset_size, coverage=False, inception_score=True)
        if h.features is None:
            return None
        try:
            net = load_shapes_features(Path(h.features)) if h.features != "shapes" else load_shapes_features()
        except FileNotFoundError as e:
            if h.features == "shapes":
                raise ConfigError(f"model.init_args.features: {e}") from e
            raise ConfigError(f"model.init_args.features={h.features}: no such classifier checkpoint; make one with "
                              f"`paperlab baseline gan-features --out {h.features}` (ShapesWorld) or add "
                              "`--mnist ROOT` (MNIST digits)") from e
        return SampleQuality(net, "shapes", h.kid_subset_size, inception_score=True)

    @property
    def conditional(self) -> bool:
        return self.hparams.num_classes > 0

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        size = getattr(dm, "image_size", None)
        if size is not None and size != self.hparams.image_size:
            raise ConfigError(f"model.init_args.image_size={self.hparams.image_size} but the data ({dm.describe()}) "
                              f"is {size} px: the generator's output must match; set both the same")
        n = getattr(dm, "num_classes", None)
        if self.conditional and n != self.hparams.num_classes:
            raise ConfigError(f"model.init_args.num_classes={self.hparams.num_classes} (conditional) but the data "
                              f"({dm.describe()}) has {n or 'no'} classes; set num_classes to {n or 0}")
        names = getattr(dm, "class_names", None)
        if self.cond_quality is not None and names is not None and list(names) != self.cond_quality.class_names:
            self._cond_ok = False  # the classifier does not know these classes: no cond_acc / per-class FID
            # (the module stays, so that checkpoints keep one set of keys)

    # --- sampling ------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ N(0, I), (n, latent_dim), on the module's device."""
        return torch.randn(n, self.hparams.latent_dim, generator=generator).to(self.device)

    def _labels_for(self, labels: Tensor | None, n: int) -> Tensor | None:
        if not self.conditional:
            return None
        if labels is None or (labels < 0).any():
            return torch.arange(n, device=self.device) % self.hparams.num_classes
        return labels

    def check_labels(self, labels: Tensor) -> None:
        """ConfigError unless every label is a class of this conditional generator (a user asked for them)."""
        k = self.hparams.num_classes
        if not self.conditional:
            raise ConfigError("this generator is unconditional (num_classes=0): it takes no class labels")
        bad = labels[(labels < 0) | (labels >= k)]
        if len(bad):
            raise ConfigError(f"class {int(bad[0])} is outside this conditional generator's range 0..{k - 1} "
                              f"({k} classes)")

    @torch.no_grad()
    def generate(self, labels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One sample per requested class label (B,), in eval mode; labels are checked first."""
        self.check_labels(labels)
        was = self.generator.training
        self.generator.eval()
        try:
            return self(self.noise(len(labels), generator), labels.to(self.device))
        finally:
            self.generator.train(was)

    def real_and_fakes(self, batch: Batch) -> tuple[Tensor, Tensor | None, Tensor]:
        """``(real, labels, fake)``: the batch's images, the labels both nets are conditioned on, and
        as many generated images, drawn without gradient for the critic's step."""
        real, labels = batch
        y = self._labels_for(labels, len(real))
        with torch.no_grad():
            fake = self.generator(self.noise(len(real)), y)
        return real, y, fake

    def score_new_fakes(self, n: int, labels: Tensor | None) -> Tensor:
        """The critic's scores of ``n`` fresh generated images, with gradient (the generator's step)."""
        return self.critic(self.generator(self.noise(n), labels), labels)

    def optimiser_step(self, opt: Any, loss_fn: Callable[[], Tensor], after: Callable[[], None] | None = None) -> Tensor:
        """One manual step: only ``opt``'s parameters trainable while ``loss_fn()`` runs, backward,
        step, then ``after()`` (WGAN's weight clipping) before the others are trainable again."""
        self.toggle_optimizer(opt)
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt.step()
        if after is not None:
            after()
        self.untoggle_optimizer(opt)
        return loss

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Images (B, 3, S, S) in [-1, 1] from z (B, latent_dim); labels default to 0, 1, ... (conditional)."""
        return self.generator(z, self._labels_for(labels, len(z)))

    def flops_input(self, batch: Batch) -> Tensor:
        return self.noise(1)  # PerfMonitor: the FLOPs and latency are the generator's

    # --- divergence guard ----------------------------------------------------------------------

    def _watch(self, **losses: Tensor) -> None:
        """Remember, on the device (no sync), the first step at which each loss was not finite."""
        for name, value in losses.items():
            first = self._first_bad.get(name)
            if first is None:
                first = self._first_bad[name] = torch.full((), -1, dtype=torch.long, device=value.device)
            bad = ~torch.isfinite(value.detach())
            self._first_bad[name] = torch.where(bad & (first < 0), self._batches, first)

    def _check_finite(self) -> None:
        """One host sync: raise ``DivergenceError`` naming the loss(es) and the first bad step."""
        if not self._first_bad:
            return
        names = list(self._first_bad)
        steps = torch.stack([self._first_bad[k] for k in names]).tolist()
        bad = [(s, k) for s, k in zip(steps, names, strict=True) if s >= 0]
        if not bad:
            return
        step = min(s for s, _ in bad)
        which = ", ".join(f"train/{k}" for s, k in bad if s == step)
        per_epoch = max(1, int(self.trainer.num_training_batches)) if self._trainer is not None else 0
        where = f" (epoch {step // per_epoch}, batch {step % per_epoch})" if per_epoch else ""
        raise DivergenceError(f"{type(self).__name__} diverged: {which} became NaN/inf at training step {step}{where}. "
                              "Lower the learning rates, check the data for NaNs, or (WGAN) the clip value.")

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self._batches += 1
        every = self.hparams.finite_check_every
        if every > 0 and self._batches % every == 0:
            self._check_finite()

    def on_train_epoch_end(self) -> None:
        self._check_finite()

    # --- validation ----------------------------------------------------------------------------

    def on_validation_epoch_start(self) -> None:
        # the same z every epoch (different per process, so DDP ranks do not draw the same fakes)
        self._val_rng = torch.Generator().manual_seed(self.global_rank)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        images, labels = batch
        fake = self(self.noise(len(images), self._val_rng), labels)
        if self.quality is not None:
            self.quality.update(images, fake)
        if self._cond_ok and (labels >= 0).all():
            self.cond_quality.update(images, labels, fake, labels)

    def _scores(self) -> dict[str, Tensor]:
        scores: dict[str, Tensor] = {}
        for metric in (self.quality, self.cond_quality if self._cond_ok else None):
            if metric is not None:
                scores.update(metric.compute())
                metric.reset()
        return scores

    def on_validation_epoch_end(self) -> None:
        scores = self._scores()
        if scores:
            self.log_dict({f"val/{k}": v for k, v in scores.items()}, prog_bar=True)

    test_step = validation_step
    on_test_epoch_start = on_validation_epoch_start

    def on_test_epoch_end(self) -> None:
        scores = self._scores()
        if scores:
            self.log_dict({f"test/{k}": v for k, v in scores.items()})

    @torch.no_grad()
    def samples(self) -> Tensor:
        """The fixed-noise samples (media_samples, 3, S, S), in eval mode."""
        was = self.generator.training
        self.generator.eval()
        try:
            return self.generator(self.fixed_noise, self.fixed_labels if self.conditional else None)
        finally:
            self.generator.train(was)

    def wandb_media(self, batch: Batch, outputs: object) -> dict:
        """The fixed-noise sample grid (one column per class when conditional) as one W&B image."""
        import wandb  # only runs that log to W&B call this

        nrow = self.hparams.num_classes if self.conditional else 8
        grid = sample_grid(self.samples(), nrow=nrow)
        return {"val/samples": wandb.Image(grid, caption=f"fixed noise, epoch {self.current_epoch}")}

