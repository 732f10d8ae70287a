"""Trivial generator: the config's own GAN before any training step, scored by its own FID/KID.

An untrained generator's samples are smooth noise around grey; the gap to a demo's FID is what
adversarial training added; its val/cond_acc (CGAN) and val/code_acc (InfoGAN) are the chance
levels those demos' bars stand on. The module's validation (fixed noise, the configured feature net)
computes the figures, so they are the demo's metric, not a re-implementation.
"""

from __future__ import annotations

import lightning as L

OVERRIDES: list[str] = []
KEYS = ("val/fid", "val/kid", "val/is_", "val/cond_acc", "val/code_acc", "val/code_size_rho")


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """``val/fid_*``, ``val/kid_*``, ``val/is_*`` and the conditional/code scores of the freshly initialised
    generator (empty without a feature net)."""
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1)
    metrics = trainer.validate(model, datamodule=dm, verbose=False)[0]
    return {"untrained_generator": {k: float(v) for k, v in metrics.items() if k.startswith(KEYS)}}
