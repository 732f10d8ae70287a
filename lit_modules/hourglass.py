"""Stacked hourglass pose estimation (Newell, Yang & Deng, ECCV 2016).

The idea: repeated bottom-up, top-down processing (each hourglass pools to a few pixels and
upsamples back, with skips at every scale), with a heatmap prediction after every stack that is
supervised (intermediate supervision) and fed back into the next stack's features.
Joint positions are the argmax of the last stack's heatmaps, a quarter pixel towards the higher
neighbour.

Batch contract (``datamodules.pose``): ``(images (B, 3, S, S), keypoints (B, K, 3) (x, y, vis) in
input pixels, pck_norm (B,), head_size (B,))``; Gaussian heatmap targets are built here.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.data_checks import check_matches_data, datamodule_of
from lit_modules.eval_means import eval_means, log_mean
from lit_modules.losses.heatmap import heatmap_mse
from lit_modules.media import to_display
from lit_modules.metrics.pck import PCK, PCKh
from lit_modules.metrics.pose_media import draw_skeletons
from lit_modules.nets.hourglass import StackedHourglass
from lit_modules.ops.heatmaps import decode_heatmaps, encode_heatmaps
from lit_modules.transfer import Transferable, resolve_checkpoint

Batch = tuple[Tensor, Tensor, Tensor, Tensor]


class HourglassModule(Transferable, L.LightningModule):
    """A stacked hourglass trained on Gaussian heatmaps; logs ``val/pck@0.1`` (and ``val/pckh@0.5``).

    Args:
        num_joints: K, must equal the data's joint count (checked at setup).
        num_stacks: hourglasses in a row (paper: 8; ablation 1/2/4/8).
        channels: feature width (paper: 256).
        depth: poolings per hourglass (paper: 4).
        stride: input pixels per heatmap pixel (paper: 4, 256 -> 64).
        intermediate_supervision: supervise every stack's heatmaps (paper) or only the last.
        sigma: target Gaussian std in heatmap pixels (paper: 1).
        flip_test: average the heatmaps of the image and its mirror (joints swapped) at eval (paper).
        lr: peak learning rate (paper: RMSprop 2.5e-4).
        optimizer: "rmsprop" (paper), "adam" or "adamw".
        weight_decay: L2 / decoupled weight decay (paper: none).
        schedule: "constant", "step" (÷10 every ``step_epochs``; the paper drops on plateau) or "cosine".
        step_epochs: epochs between ÷10 steps.
        warmup_epochs: linear warm-up length (fractions allowed).
        init_from: a pose run folder or checkpoint to initialise from (``lit_modules.transfer``).
        reinit: blocks kept at their fresh initialisation even where the checkpoint fits them.
        freeze: blocks that get no gradient; their BN stays in eval mode.
        lr_mult: block -> factor on ``lr`` (layer-wise learning rates).
    """

    family = "pose"  # init_from accepts checkpoints of this family only
    primary_metric = "val/pck@0.1"
    method_label = "Stacked hourglass"  # the report's Method column (experiments.method)

    def __init__(
        self,
        num_joints: int = 16,
        num_stacks: int = 8,
        channels: int = 256,
        depth: int = 4,
        stride: Literal[1, 2, 4] = 4,
        intermediate_supervision: bool = True,
        sigma: float = 1.0,
        flip_test: bool = False,
        lr: float = 2.5e-4,
        optimizer: Literal["rmsprop", "adam", "adamw"] = "rmsprop",
        weight_decay: float = 0.0,
        schedule: Literal["constant", "step", "cosine"] = "constant",
        step_epochs: int = 100,
        warmup_epochs: float = 0.0,
        init_from: str | None = None,
        reinit: list[str] | None = None,
        freeze: list[str] | None = None,
        lr_mult: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if init_from:
            resolve_checkpoint(init_from)  # a missing run folder fails before any data is rendered
        self.net = StackedHourglass(num_joints, num_stacks, channels, depth, stride)
        self.val_pck, self.test_pck = PCK(0.1), PCK(0.1)
        self.val_pckh, self.test_pckh = PCKh(0.5), PCKh(0.5)
        self.eval_means = eval_means("loss")  # exact over ranks with unequal shards
        self.flip_perm: list[int] = list(range(num_joints))

    def setup(self, stage: str) -> None:
        dm = datamodule_of(self)
        check_matches_data(self, "num_joints", "joints")
        for a, b in getattr(dm, "flip_pairs", None) or []:
            self.flip_perm[a], self.flip_perm[b] = b, a
        if self.hparams.flip_test and self.flip_perm == list(range(self.hparams.num_joints)):
            raise ConfigError("model.init_args.flip_test=true needs the data's left/right joint pairs (flip_pairs)")
        self.apply_transfer()

    def forward(self, images: Tensor) -> Tensor:
        """``(B, 3, S, S)`` -> every stack's heatmaps ``(B, N, K, S/stride, S/stride)``."""
        return self.net(images)

    def heatmaps(self, images: Tensor) -> Tensor:
        """Final heatmaps ``(B, K, h, w)``, averaged with the mirrored image's when ``flip_test``."""
        heat = self(images)[:, -1]
        if self.hparams.flip_test:
            mirrored = self(images.flip(-1))[:, -1].flip(-1)  # (B, K, h, w): back in the image frame
            heat = (heat + mirrored[:, self.flip_perm]) / 2  # its "left" channel is our right joint
        return heat

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, keypoints = batch[0], batch[1]
        out = self(images)  # (B, N, K, h, w)
        target, weights = encode_heatmaps(keypoints, out.shape[-2:], self.hparams.stride, self.hparams.sigma)
        stacks = out.unbind(1) if self.hparams.intermediate_supervision else (out[:, -1],)
        loss = sum(heatmap_mse(o, target, weights) for o in stacks)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def _eval_step(self, batch: Batch, stage: str) -> Tensor:
        images, keypoints, pck_norm, head_size = batch
        heat = self.heatmaps(images)
        target, weights = encode_heatmaps(keypoints, heat.shape[-2:], self.hparams.stride, self.hparams.sigma)
        pred = decode_heatmaps(heat, self.hparams.stride)  # (B, K, 3)
        pck, pckh = (self.val_pck, self.val_pckh) if stage == "val" else (self.test_pck, self.test_pckh)
        pck(pred, keypoints, pck_norm)
        # a mean over the batch's labelled joints: weighted by them, it is the split's mean whatever the
        # batches and the ranks' shards
        log_mean(self, self.eval_means, stage, "loss", heatmap_mse(heat, target, weights), int(weights.sum()))
        self.log(f"{stage}/pck@0.1", pck, prog_bar=True)
        if getattr(datamodule_of(self), "has_head_size", False):
            pckh(pred, keypoints, head_size)
            self.log(f"{stage}/pckh@0.5", pckh)
        return pred

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return decode_heatmaps(self.heatmaps(batch[0]), self.hparams.stride)

    def wandb_media(self, batch: Batch, outputs: Tensor | None, n: int = 8) -> dict:
        """The first ``n`` validation crops with the true (green) and predicted (red) skeletons."""
        import wandb  # only runs that log to W&B call this

        images, keypoints = batch[0][:n], batch[1][:n]
        if outputs is None:
            with torch.no_grad():
                outputs = decode_heatmaps(self.heatmaps(images), self.hparams.stride)
        skeleton = getattr(datamodule_of(self), "skeleton", None) or []
        zoom = max(1, 256 // images.shape[-1])
        return {"val/skeletons": [
            wandb.Image(draw_skeletons(img, t.cpu(), p.cpu(), skeleton, zoom), caption="green: true, red: predicted")
            for img, t, p in zip(to_display(images), keypoints, outputs[:n], strict=True)
        ]}
