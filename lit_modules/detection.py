"""Shared base for the detection family: COCO-style mAP for boxes (and masks), optimiser, schedule.

Batch contract (``datamodules.detection``): ``(images, targets)``, lists of float ``(3, H, W)``
images in [0, 1] and target dicts (``boxes`` xyxy, ``labels`` 1..K, ``masks``?, ``iscrowd``?).
Subclasses build ``self.net`` and implement ``losses(images, targets) -> dict`` (training mode)
and ``forward(images) -> list[dict(boxes, scores, labels[, masks (N, H, W) bool])]`` (eval mode).
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import numpy as np
import torch.distributed as dist
from lightning.pytorch.loggers import WandbLogger
from torch import Tensor
from torchmetrics.detection import MeanAveragePrecision

from lit_modules.data_checks import check_matches_data
from lit_modules.metrics.det_media import log_detection_media
from lit_modules.optim import Optimised

# COCOeval's own thresholds. torchmetrics' defaults come from a float32 torch.linspace (0.65 ->
# 0.6499999762, recall 0.7 -> 0.6999999881), which moves AP when a recall lands exactly on a
# threshold (tests/unit/test_det_metric.py found 1e-3 differences); these make it COCOeval's numbers.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10).tolist()
REC_THRESHOLDS = np.linspace(0.0, 1.0, 101).tolist()


class ShardedMeanAveragePrecision(MeanAveragePrecision):
    """torchmetrics' mAP, synchronised when the ranks scored different numbers of images.

    Its states are lists with one entry per image, and torchmetrics gathers them entry by entry,
    which needs as many images on every rank (a split that does not divide by the world size hangs
    or crashes in the gather). Here each rank's lists go whole through ``all_gather_object`` and are
    interleaved back into the split's order (``datamodules.loaders.EvalShards`` gives rank r the
    images r, r + W, ...), so the mAP is the one-process mAP, ties between equal scores included.
    """

    def _sync_dist(self, dist_sync_fn=None, process_group=None) -> None:
        group = process_group or self.process_group
        size = dist.get_world_size(group)
        mine = {attr: [_to_cpu(x) for x in getattr(self, attr)] for attr in self._reductions}
        everyone: list[dict | None] = [None] * size
        dist.all_gather_object(everyone, mine, group=group)
        for attr in self._reductions:
            lists = [d[attr] for d in everyone]  # type: ignore[index]
            merged = [lst[j] for j in range(max(map(len, lists), default=0)) for lst in lists if j < len(lst)]
            setattr(self, attr, [_to_device(x, self.device) for x in merged])

    def compute(self) -> dict:
        """torchmetrics' result, with ``map`` at the last max-detections threshold when that is not 100.

        pycocotools' summary computes mAP@[.5:.95] at 100 detections whatever ``maxDets`` holds (its
        ``_summarize`` default), so with ``[1, 10, 200]`` (SSD) ``map`` came out -1 while ``map50`` counted
        200. It is recomputed here from the precision array, as pycocotools does: the mean of the
        precisions > -1 over every IoU threshold, recall threshold and class, area "all".
        """
        own = self.max_detection_thresholds[-1] != 100 and not self.extended_summary
        self.extended_summary = self.extended_summary or own
        try:
            out = super().compute()
        finally:
            self.extended_summary = self.extended_summary and not own
        if own:
            for prefix in ([""] if isinstance(self.iou_type, str) or len(self.iou_type) == 1
                           else [f"{t}_" for t in self.iou_type]):
                precision = out[f"{prefix}precision"]
                if precision.ndim == 5:  # (T, R, K, A, M); absent when no image was scored
                    p = precision[..., 0, -1]
                    out[f"{prefix}map"] = p[p > -1].mean() if (p > -1).any() else p.new_tensor(-1.0)
                for key in ("ious", "precision", "recall", "scores"):
                    out.pop(f"{prefix}{key}", None)
        return out


def _to_cpu(x):
    return x.cpu() if isinstance(x, Tensor) else x


def _to_device(x, device):
    return x.to(device) if isinstance(x, Tensor) else x


def map_metric(masks: bool, max_dets: int = 100) -> MeanAveragePrecision:
    """COCO mAP counting each image's ``max_dets`` best detections (COCO: 100; SSD's VOC protocol: 200)."""
    # pycocotools is the backend installed here (faster_coco_eval is not)
    return ShardedMeanAveragePrecision(iou_type=("bbox", "segm") if masks else "bbox", backend="pycocotools",
                                       iou_thresholds=IOU_THRESHOLDS, rec_thresholds=REC_THRESHOLDS,
                                       max_detection_thresholds=[1, 10, max_dets])


class DetectionModule(Optimised, L.LightningModule):
    """COCO mAP@[.5:.95] / mAP@.5 logged as ``{stage}/map``, ``{stage}/map50`` (+ ``segm_`` for masks).

    A method subclass declares only its own arguments and passes these on as ``**kwargs``; the
    defaults are Faster R-CNN's VGG-16 recipe, and each paper config sets its own.

    Args:
        num_classes: object classes K (labels 1..K; checked against the data at setup).
        lr: peak learning rate.
        optimizer: "sgd" (momentum; the papers) or "adamw".
        momentum: SGD momentum.
        weight_decay: L2 / decoupled weight decay (not on biases and norms).
        schedule: "step" (÷10 at each of ``milestones``, in epochs), "cosine" or "constant" after
            the warm-up (``lit_modules.optim``).
        milestones: epochs of the ÷10 steps for ``schedule="step"``.
        warmup_epochs: linear warm-up length (fractions allowed).
        media_images: validation images sent to W&B with predicted and true boxes (0: none).
    """

    primary_metric = "val/map50"
    masks = False  # a subclass whose net predicts instance masks sets True (adds ``segm_map``/``segm_map50``)

    def __init__(
        self,
        num_classes: int,
        lr: float = 1e-3,
        optimizer: Literal["sgd", "adamw"] = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 5e-4,
        schedule: Literal["step", "cosine", "constant"] = "step",
        milestones: list[int] = [12],  # noqa: B006 (jsonargparse needs a plain default)
        warmup_epochs: float = 0.0,
        media_images: int = 4,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # the subclass's arguments too: Lightning walks up to its __init__
        self.val_map = map_metric(self.masks)
        self.test_map = map_metric(self.masks)
        self._media: list[tuple[Tensor, dict, dict]] = []

    def losses(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """The named loss terms, summed unweighted by ``training_step``. Default: torchvision's detector
        contract, ``self.net(images, targets)`` in train mode returns them (Faster R-CNN, SSD)."""
        return self.net(images, targets)

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        """Detections per image (``boxes``, ``labels``, ``scores``). Default: ``self.net(images)`` in eval mode."""
        return self.net(images)

    def setup(self, stage: str) -> None:
        check_matches_data(self)

    def training_step(self, batch: tuple[list[Tensor], list[dict]], batch_idx: int) -> Tensor:
        images, targets = batch
        parts = self.losses(images, targets)
        loss = sum(parts.values())
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        for k, v in parts.items():
            self.log(f"train/{k}", v, on_step=False, on_epoch=True, batch_size=len(images))
        return loss

    @staticmethod
    def for_metric(items: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        out = []
        for d in items:
            e = {k: d[k] for k in ("boxes", "scores", "labels", "iscrowd") if k in d}
            if "masks" in d:
                e["masks"] = d["masks"].bool()
            out.append(e)
        return out

    def _eval_step(self, batch: tuple[list[Tensor], list[dict]], batch_idx: int, metric) -> None:
        images, targets = batch
        preds = self.predict_batch(images, targets)
        metric.update(self.for_metric(preds), self.for_metric(targets))
        if metric is self.val_map and batch_idx == 0 and self.hparams.media_images:
            n = self.hparams.media_images
            self._media = [(i.cpu(), {k: v.cpu() for k, v in p.items()}, {k: v.cpu() for k, v in t.items()
                            if isinstance(v, Tensor)}) for i, p, t in zip(images[:n], preds[:n], targets[:n])]

    def predict_batch(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        """Predictions of an evaluation batch (R-CNN and Fast R-CNN read the targets' cached ``proposals``)."""
        return self(images)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, self.val_map)

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, self.test_map)

    def predict_step(self, batch, batch_idx: int) -> list[dict[str, Tensor]]:
        return self(batch[0])

    def _log_map(self, metric: MeanAveragePrecision, stage: str) -> None:
        r = metric.compute()
        # compute() gathered every rank's images: the same value on every rank, which the mean keeps
        for kind, prefix in (("bbox_", ""), ("segm_", "segm_")) if self.masks else (("", ""),):
            self.log(f"{stage}/{prefix}map", r[f"{kind}map"].float(), sync_dist=True)
            self.log(f"{stage}/{prefix}map50", r[f"{kind}map_50"].float(), sync_dist=True, prog_bar=not prefix)
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_map(self.val_map, "val")
        if self._media and isinstance(self.logger, WandbLogger) and not self.trainer.sanity_checking:
            log_detection_media(self.logger.experiment, self._media, "val/predictions", self.global_step)
        self._media = []

    def on_test_epoch_end(self) -> None:
        self._log_map(self.test_map, "test")
