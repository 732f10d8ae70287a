"""Shared base of the pretext tasks (rotation, relative position, jigsaw, colourisation).

A pretext task invents labels from the image itself and trains the encoder to predict them.
The methods live in the SSL family: the same encoders, data (``datamodules.ssl``, of whose two
augmented views a pretext task uses the first), online linear probe and kNN monitor as SimCLR and
MoCo v2 (``lit_modules.ssl.SSLModule``), and the same offline linear evaluation
(``lit_modules.linear_eval``), so that every number compares like with like.

A subclass implements ``pretext(x) -> (logits, targets, features)`` and, where its inputs
are pictures worth a look, ``media(images)``. Logged: ``train/pretext_acc`` and
``val/pretext_acc`` (how well the invented task itself is solved), beside the family's
``val/linear_acc`` and ``val/knn_acc``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lit_modules.data_checks import datamodule_of
from lit_modules.nets.pretext import Grayscale
from lit_modules.ssl import SSLModule


class PretextModule(SSLModule):
    """Base of the pretext tasks; every argument is ``SSLModule``'s (see there)."""

    media_caption = "pretext inputs"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.grey = Grayscale()  # also un-normalises for media; stats set from the data in setup

    def pretext(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(logits, targets, features)`` of a view batch ``x (B, 3, H, W)``: the task's
        predictions and labels, and the encoder's whole-image features ``(B, F)`` for the probe."""
        raise NotImplementedError

    def whole_image_features(self, x: Tensor) -> Tensor:
        """Encoder features ``(B, F)`` of the whole images for the probe, without gradients. In
        training mode this pass (and only it, see ``frozen_bn_stats``) moves BN's running
        statistics, so linear evaluation later sees the statistics of whole images."""
        with torch.no_grad():
            return self.backbone(x)

    def pretext_loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(logits, targets)

    def pretext_accuracy(self, logits: Tensor, targets: Tensor) -> Tensor:
        return (logits.argmax(1) == targets).float().mean()

    def setup(self, stage: str) -> None:
        super().setup(stage)
        stats = getattr(datamodule_of(self), "_stats", None)
        if callable(stats):
            self.grey.set_stats(*stats())

    def ssl_loss(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
        logits, targets, h = self.pretext(x1)  # the second view is not used
        self.log("train/pretext_acc", self.pretext_accuracy(logits.detach(), targets))
        return self.pretext_loss(logits, targets), h

    def forward(self, images: Tensor) -> Tensor:
        """Features ``(B, F)`` of ``(B, 3, H, W)``; for a two-view batch the pretext logits of the
        first view (the trained computation, used for FLOPs)."""
        if images.ndim == 5:
            return self.pretext(images[:, 0])[0]
        return self.features(images)

    def _eval_step(self, batch: tuple[Tensor, Tensor], dataloader_idx: int, stage: str) -> None:
        super()._eval_step(batch, dataloader_idx, stage)
        if dataloader_idx == 1:
            logits, targets, _ = self.pretext(batch[0])
            self.log(f"{stage}/pretext_acc", self.pretext_accuracy(logits, targets), add_dataloader_idx=False)

    # --- media -------------------------------------------------------------------------------------
    def media(self, images: Tensor) -> np.ndarray:
        """A uint8 ``(H, W, 3)`` picture of the pretext inputs of ``images`` (normalised ``(N, 3, H, W)``)."""
        raise NotImplementedError

    def display(self, images: Tensor) -> Tensor:
        """Normalised images -> RGB in [0, 1] (the data's own normalisation undone)."""
        return self.grey.rgb(images.float())

    def wandb_media(self, batch: tuple[Tensor, Tensor], outputs: object, n: int = 8) -> dict:
        import wandb  # only runs that log to W&B call this

        with torch.no_grad():
            picture = self.media(batch[0][:n])
        return {"val/pretext_inputs": wandb.Image(picture, caption=self.media_caption)}


def grid_picture(rows: list[list[Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of RGB images in [0, 1] (each ``(3, h, w)``, sizes may differ) -> one uint8 picture.

    Each cell is centred in a slot of the largest size, on white.
    """
    hmax = max(t.shape[1] for r in rows for t in r)
    wmax = max(t.shape[2] for r in rows for t in r)
    ncol = max(len(r) for r in rows)
    out = torch.ones(3, len(rows) * (hmax + pad) + pad, ncol * (wmax + pad) + pad)
    for i, r in enumerate(rows):
        for j, t in enumerate(r):
            y = pad + i * (hmax + pad) + (hmax - t.shape[1]) // 2
            x = pad + j * (wmax + pad) + (wmax - t.shape[2]) // 2
            out[:, y:y + t.shape[1], x:x + t.shape[2]] = t.detach().float().cpu().clamp(0, 1)
    return (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def tile_layout(tiles: Tensor, grid: int, gap: int = 2) -> Tensor:
    """Tiles ``(grid*grid, 3, p, p)`` -> one image with the tiles in row-major order, ``gap`` apart (white)."""
    p = tiles.shape[-1]
    side = grid * p + (grid - 1) * gap
    out = torch.ones(3, side, side)
    for k, t in enumerate(tiles):
        i, j = divmod(k, grid)
        out[:, i * (p + gap):i * (p + gap) + p, j * (p + gap):j * (p + gap) + p] = t.cpu()
    return out
