"""R-CNN — "Rich feature hierarchies for accurate object detection and semantic segmentation" (Girshick 2014).

The idea: take ~2000 class-agnostic region proposals an image (selective search, cached by
``datamodules.proposals``), warp each (with 16 px of context at 227 px) to the CNN's fixed input,
fine-tune the CNN to classify windows (IoU >= 0.5 with an object: that class; 32 positive + 96
background windows a batch), then score the fc7 features with one linear SVM per class trained
with hard-negative mining (``ops.svm``), refine each box with a class-specific regressor and keep
the best with per-class NMS. ``scorer="softmax"`` is the paper's Appendix B ablation (the
fine-tuned softmax instead of the SVMs); a run with SVMs logs that ablation too (``val/softmax_map50``).
Deviation: the box regressor is a linear head on fc7 trained jointly with the fine-tuning (smooth
L1 on the positive windows) instead of ridge regression fitted on pool5 afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import batched_nms, clip_boxes_to_image

from contracts.errors import ConfigError
from lit_modules.detection import DetectionModule, map_metric
from lit_modules.nets.det_backbones import IMAGENET_MEAN, IMAGENET_STD
from lit_modules.nets.region_cnn import RegionCNN, WindowBackbone, chunked
from lit_modules.ops.regions import label_regions, sample_windows, warp_regions
from lit_modules.ops.selective_search import SSMode, selective_search
from lit_modules.ops.svm import class_overlaps, train_svms


class RCNNModule(DetectionModule):
    """R-CNN; defaults are the paper's AlexNet recipe (optimisation arguments: ``DetectionModule``'s).

    Args:
        num_classes: K.
        backbone: "alexnet" (paper), "vgg16" or "small" (CPU demo). weights_backbone: ImageNet weights.
        weights: local checkpoint of the whole detector.
        width / representation: the small backbone's first-stage channels and fc6/fc7 width.
        pool: the small backbone's window map max-pooled to ``pool x pool`` before fc6 (None: as it is);
            the same ``pool`` / ``representation`` as Fast R-CNN's gives both one head.
        dropout: the small backbone's, before fc6 and fc7 (paper: 0.5 on 4096 units; torchvision's Fast R-CNN head: none).
        window: warped side (paper: 227). context: pixels of surround in the warped window (paper: 16).
        fg_iou: a window is positive for fine-tuning at IoU >= this (paper: 0.5).
        batch_positives / batch_negatives: windows of a batch (paper: 32 / 96).
        scorer: "svm" (paper) or "softmax" (Appendix B). Until the SVMs are trained, softmax scores.
        svm_images: training images whose windows train the SVMs (after the last epoch; 0: no SVMs).
        svm_C / svm_pos_weight / svm_neg_iou / svm_rounds: ``ops.svm.train_svms``.
        nms_iou: per-class NMS threshold (paper: 0.3). detections_per_img: kept per image.
        proposal_mode / max_proposals / proposal_k / proposal_scale: selective search when an image comes
            without cached proposals (``selective_search``'s mode, max_boxes, k, scale).
        image_mean / image_std: normalisation before warping (outside the image pads with the mean).
    """

    method_label = "R-CNN"

    def __init__(self, num_classes: int = 20, backbone: WindowBackbone = "alexnet", weights_backbone: str | None = None,
                 weights: str | None = None, width: int = 16, representation: int = 256, window: int = 227,
                 context: float = 16.0, fg_iou: float = 0.5, batch_positives: int = 32, batch_negatives: int = 96,
                 scorer: Literal["svm", "softmax"] = "svm", svm_images: int = 500, svm_C: float = 1e-3,
                 svm_pos_weight: float = 2.0, svm_neg_iou: float = 0.3, svm_rounds: int = 2, nms_iou: float = 0.3,
                 detections_per_img: int = 100, proposal_mode: SSMode = "fast", max_proposals: int = 2000,
                 proposal_k: int | None = None, proposal_scale: float = 1.0,
                 image_mean: tuple[float, float, float] = IMAGENET_MEAN,
                 image_std: tuple[float, float, float] = IMAGENET_STD, pool: int | None = None, dropout: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.net = RegionCNN(num_classes, backbone, window, weights_backbone, width, representation, dropout, pool)
        self.coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
        self.register_buffer("mean", torch.tensor(image_mean).view(3, 1, 1))
        self.register_buffer("std", torch.tensor(image_std).view(3, 1, 1))
        self.register_buffer("svm_w", torch.zeros(num_classes, self.net.dim))
        self.register_buffer("svm_b", torch.zeros(num_classes))
        self.register_buffer("feat_scale", torch.ones(()))  # fc7 scaled to mean norm 20 for the SVMs (paper)
        self.register_buffer("svm_ready", torch.zeros((), dtype=torch.bool))
        self.val_alt = map_metric(False)  # the other scorer's mAP (Appendix B), once the SVMs exist
        if weights is not None:  # a checkpoint of this module: fine-tuned net, SVMs and their feature scale
            if not Path(weights).is_file():
                raise ConfigError(f"detector weights file {weights!r} does not exist (a local file: nothing is downloaded)")
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.load_state_dict(state.get("state_dict", state))

    def _windows(self, images: list[Tensor], boxes: list[Tensor]) -> Tensor:
        return warp_regions([(i - self.mean) / self.std for i in images], boxes, self.hparams.window,
                            self.hparams.context)  # (R, 3, S, S)

    def _regions(self, targets: list[dict[str, Tensor]]) -> list[Tensor]:
        # ground-truth boxes join the proposals as positives (the paper fine-tunes on both)
        return [torch.cat([t["boxes"], t["proposals"]]) for t in targets]

    def losses(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        h = self.hparams
        regions = self._regions(targets)
        labelled = [label_regions(r, t["boxes"], t["labels"], h.fg_iou) for r, t in zip(regions, targets)]
        labels = torch.cat([lab for lab, _, _ in labelled])  # (R,) over the batch
        gts = torch.cat([t["boxes"][i] if len(t["boxes"]) else r for (_, i, _), t, r in zip(labelled, targets, regions)])
        which = torch.cat([torch.full((len(r),), j, device=labels.device) for j, r in enumerate(regions)])
        boxes = torch.cat(regions)
        pick = sample_windows(labels, h.batch_positives, h.batch_negatives)  # 32 + 96 over the batch's images
        windows = self._windows(images, [boxes[pick][which[pick] == j] for j in range(len(images))])
        order = torch.cat([pick[which[pick] == j] for j in range(len(images))])  # warp_regions' order
        logits, deltas, _ = self.net(windows)
        lab = labels[order]
        pos = torch.where(lab > 0)[0]
        target = self.coder.encode_single(gts[order][pos], boxes[order][pos])  # (P, 4)
        box = F.smooth_l1_loss(deltas[pos, lab[pos] - 1], target, beta=1 / 9, reduction="sum") / max(len(lab), 1)
        return {"loss_classifier": F.cross_entropy(logits, lab), "loss_box_reg": box}

    def predict_batch(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        return self(images, [t["proposals"] for t in targets])

    def _proposals(self, images: list[Tensor]) -> list[Tensor]:
        h = self.hparams
        return [selective_search(i.cpu(), h.proposal_mode, h.max_proposals, k=h.proposal_k,
                                 scale=h.proposal_scale).to(i.device) for i in images]

    def _head(self, feats: Tensor, props: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
        """fc7 ``(P, D)`` -> softmax scores ``(P, K)``, SVM scores ``(P, K)``, class-specific boxes ``(P, K, 4)``."""
        k = self.hparams.num_classes
        deltas = self.net.box(feats).view(len(feats), k, 4)
        boxes = self.coder.decode_single(deltas.reshape(-1, 4), props.repeat_interleave(k, 0))
        svm = (feats * self.feat_scale) @ self.svm_w.T + self.svm_b
        return self.net.cls(feats).softmax(1)[:, 1:], svm, clip_boxes_to_image(boxes, size).view(len(props), k, 4)

    @torch.no_grad()
    def _score(self, images: list[Tensor], proposals: list[Tensor]) -> list[tuple[Tensor, Tensor, Tensor]]:
        """Per image: softmax scores, SVM scores and regressed boxes (``_head``) of every proposal."""
        return [self._head(chunked(self.net.features, self._windows([i], [p]))[0], p, i.shape[-2:])
                for i, p in zip(images, proposals)]

    def _detect(self, scores: Tensor, boxes: Tensor) -> dict[str, Tensor]:
        """Per-class NMS over every (proposal, class) pair; the best ``detections_per_img`` kept."""
        k = scores.shape[1]
        labels = torch.arange(1, k + 1, device=scores.device).expand_as(scores).reshape(-1)
        scores, boxes = scores.reshape(-1), boxes.reshape(-1, 4)
        keep = batched_nms(boxes, scores, labels, self.hparams.nms_iou)[: self.hparams.detections_per_img]
        return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}

    def _use_svm(self) -> bool:
        return self.hparams.scorer == "svm" and bool(self.svm_ready)

    def forward(self, images: list[Tensor], proposals: list[Tensor] | None = None) -> list[dict[str, Tensor]]:
        scored = self._score(images, self._proposals(images) if proposals is None else proposals)
        return [self._detect(svm if self._use_svm() else soft, boxes) for soft, svm, boxes in scored]

    @torch.no_grad()
    def detect_stages(self, images: list[Tensor], proposals: list[Tensor] | None = None
                      ) -> tuple[list[dict[str, Tensor]], dict[str, float]]:
        """Predictions and seconds in "proposals" (selective search), "features" (warp + CNN), "head".

        ``proposals`` given (cached, as the papers tested): no selective search, "proposals" 0.
        """
        t, clock, preds = {"proposals": 0.0, "features": 0.0, "head": 0.0}, time.perf_counter, []
        for n, image in enumerate(images):
            if proposals is None:
                s = clock()
                props = self._proposals([image])[0]
                t["proposals"] += clock() - s
            else:
                props = proposals[n]
            s = clock()
            feats = chunked(self.net.features, self._windows([image], [props]))[0]
            t["features"] += clock() - s
            s = clock()
            soft, svm, boxes = self._head(feats, props, image.shape[-2:])
            preds.append(self._detect(svm if self._use_svm() else soft, boxes))
            t["head"] += clock() - s
        return preds, t

    # --- the SVM stage: after the last fine-tuning epoch, before its validation -----------------------------
    def on_validation_epoch_start(self) -> None:
        # Lightning validates *before* on_train_epoch_end, so the SVMs are fitted here: at the last epoch's
        # validation of a fit, or when a checkpoint without SVMs is validated (paperlab validate --ckpt_path)
        h, trainer = self.hparams, self.trainer
        if h.svm_images <= 0 or h.scorer != "svm" or trainer.sanity_checking:
            return
        last = trainer.max_epochs is not None and self.current_epoch + 1 >= trainer.max_epochs
        fitting = trainer.state.fn == "fit"
        if (fitting and (last or trainer.fast_dev_run)) or (not fitting and not bool(self.svm_ready)):
            self.fit_svms()

    @torch.no_grad()
    def fit_svms(self) -> None:
        """Extract fc7 of ground truth and proposals on ``svm_images`` training images, fit the SVMs."""
        h, start, was_training = self.hparams, time.perf_counter(), self.training
        self.eval()
        pos, pos_lab, neg, neg_iou, seen = [], [], [], [], 0
        budget = 4 if self.trainer.fast_dev_run else h.svm_images  # a smoke run only checks the wiring
        dm = self.trainer.datamodule
        dm.setup("fit")  # builds the training split when only validating (each split is built once)
        for images, targets in dm.train_dataloader():
            for image, t in zip(images, targets):
                image, t = image.to(self.device), {k: v.to(self.device) for k, v in t.items() if isinstance(v, Tensor)}
                feats = chunked(self.net.features, self._windows([image], [torch.cat([t["boxes"], t["proposals"]])]))[0]
                g = len(t["boxes"])
                pos.append(feats[:g].cpu())
                pos_lab.append(t["labels"].cpu())
                neg.append(feats[g:].cpu())
                neg_iou.append(class_overlaps(t["proposals"], t["boxes"], t["labels"], h.num_classes).cpu())
                seen += 1
            if seen >= budget:
                break
        pos_t, neg_t = torch.cat(pos), torch.cat(neg)
        scale = 20.0 / torch.cat([pos_t, neg_t]).norm(dim=1).mean().clamp_min(1e-6)
        w, b, stats = train_svms(pos_t * scale, torch.cat(pos_lab), neg_t * scale, torch.cat(neg_iou), h.num_classes,
                                 C=h.svm_C, pos_weight=h.svm_pos_weight, neg_iou_max=h.svm_neg_iou, rounds=h.svm_rounds)
        self.svm_w.copy_(w)
        self.svm_b.copy_(b)
        self.feat_scale.fill_(float(scale))
        self.svm_ready.fill_(True)
        self.train(was_training)
        print(f"R-CNN SVMs: {h.num_classes} classes on {seen} images ({len(pos_t)} positives, {len(neg_t)} "
              f"proposals, {stats['hard_negatives']:.0f} hard negatives mined) in {time.perf_counter() - start:.1f} s",
              flush=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        images, targets = batch
        scored = self._score(images, [t["proposals"] for t in targets])
        main = [self._detect(svm if self._use_svm() else soft, boxes) for soft, svm, boxes in scored]
        self.val_map.update(self.for_metric(main), self.for_metric(targets))
        if self.svm_ready:  # the other scorer, for the Appendix B comparison
            alt = [self._detect(soft if self._use_svm() else svm, boxes) for soft, svm, boxes in scored]
            self.val_alt.update(self.for_metric(alt), self.for_metric(targets))

    def on_validation_epoch_end(self) -> None:
        if self.svm_ready and self.val_alt._update_count:  # type: ignore[attr-defined]
            r, name = self.val_alt.compute(), "softmax" if self._use_svm() else "svm"
            self.log(f"val/{name}_map50", r["map_50"].float(), sync_dist=True)
            self.log(f"val/{name}_map", r["map"].float(), sync_dist=True)
            self.val_alt.reset()
        super().on_validation_epoch_end()
