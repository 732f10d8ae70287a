"""Fast R-CNN — "Fast R-CNN" (Girshick 2015).

The idea: run the conv layers once per image, not once per proposal; pool each selective-search
proposal's features with RoIPool (7x7), then two FC layers feed a softmax over K + 1 classes and a
class-specific box regressor, trained together with one multi-task loss (cross-entropy + smooth
L1, λ = 1) on 2 images x 64 RoIs a batch (a quarter foreground at IoU >= 0.5). At test time the
FC layers may be replaced by their truncated SVD (``truncated_svd: k``; paper: -30 % detection
time for -0.3 mAP). The proposals come cached with the data (``datamodules.proposals``).
Deviation: background RoIs are those under IoU 0.5 (torchvision's ``RoIHeads``), where the paper
takes them from [0.1, 0.5) as a heuristic hard-example mining.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from lit_modules.detection import DetectionModule
from lit_modules.nets.det_backbones import IMAGENET_MEAN, IMAGENET_STD, BackboneName, load_local
from lit_modules.nets.fast_rcnn import FastRCNN, swap_box_head
from lit_modules.ops.selective_search import SSMode, selective_search


class FastRCNNModule(DetectionModule):
    """Fast R-CNN; defaults are the paper's VGG-16 recipe (optimisation arguments: ``DetectionModule``'s).

    Args:
        num_classes: K. backbone: "vgg16" (paper) or "small" (CPU demo). weights_backbone: ImageNet weights.
        weights: local checkpoint of the whole detector. width / representation: small backbone, fc6/fc7 width.
        pool: RoIPool output side (paper: 7, VGG-16's pool5); fc6 sees ``channels x pool x pool``.
        min_size / max_size / image_mean / image_std: resize (paper: 600 / 1000) and normalisation.
        rois_per_image: RoIs sampled per image (paper: 64, with 2 images a batch).
        truncated_svd: rank k of fc6 and fc7 at test time (None: the full layers).
        nms_iou / detections_per_img: test-time per-class NMS and the detections kept.
        proposal_mode / max_proposals / proposal_k / proposal_scale: selective search when an image comes
            without cached proposals (``selective_search``'s mode, max_boxes, k, scale).
    """

    method_label = "Fast R-CNN"

    def __init__(self, num_classes: int = 20, backbone: BackboneName = "vgg16", weights_backbone: str | None = None,
                 weights: str | None = None, width: int = 32, representation: int = 4096, min_size: int = 600,
                 max_size: int = 1000, image_mean: tuple[float, float, float] = IMAGENET_MEAN,
                 image_std: tuple[float, float, float] = IMAGENET_STD, rois_per_image: int = 64,
                 truncated_svd: int | None = None, nms_iou: float = 0.3, detections_per_img: int = 100,
                 proposal_mode: SSMode = "fast", max_proposals: int = 2000,
                 proposal_k: int | None = None, proposal_scale: float = 1.0, pool: int = 7, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        self.net = FastRCNN(num_classes, backbone, weights_backbone, width, representation, min_size, max_size,
                            image_mean, image_std, rois_per_image, nms_iou, detections_per_img=detections_per_img,
                            pool=pool)
        load_local(self.net, weights, "detector")
        self._svd: tuple[tuple, torch.nn.Module] | None = None

    def losses(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        # softmax cross-entropy + smooth L1 on the foreground RoIs' class-specific deltas (λ = 1)
        return self.net(images, [t["proposals"] for t in targets], targets)

    def _head(self):
        """The box head used at test time: the trained one, or its truncated SVD (recomputed when weights move)."""
        k = self.hparams.truncated_svd
        head = self.net.roi_heads.box_head
        if not k:
            return head
        stamp = tuple((id(p), p._version) for p in head.parameters())
        if self._svd is None or self._svd[0] != stamp:
            self._svd = (stamp, self.net.compressed_box_head(k))
        return self._svd[1]

    def _proposals(self, images: list[Tensor]) -> list[Tensor]:
        h = self.hparams
        return [selective_search(i.cpu(), h.proposal_mode, h.max_proposals, k=h.proposal_k,
                                 scale=h.proposal_scale).to(i.device) for i in images]

    def forward(self, images: list[Tensor], proposals: list[Tensor] | None = None) -> list[dict[str, Tensor]]:
        with swap_box_head(self.net, self._head()):
            return self.net(images, proposals if proposals is not None else self._proposals(images))

    def predict_batch(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        return self(images, [t["proposals"] for t in targets])

    @torch.no_grad()
    def detect_stages(self, images: list[Tensor], proposals: list[Tensor] | None = None
                      ) -> tuple[list[dict[str, Tensor]], dict[str, float]]:
        """Predictions and seconds in "proposals" (selective search), "features" (conv pass), "head" (RoIs on).

        ``proposals`` given (cached, as the papers tested): no selective search, "proposals" 0.
        """
        clock = time.perf_counter
        s = clock()
        props = self._proposals(images) if proposals is None else proposals
        t = {"proposals": 0.0 if proposals is not None else clock() - s}
        s = clock()
        batch, props, _, sizes = self.net.prepare(images, props)
        feats = self.net.features(batch)
        t["features"] = clock() - s
        s = clock()
        with swap_box_head(self.net, self._head()):
            preds = self.net.head(feats, props, batch, sizes)
        t["head"] = clock() - s
        return preds, t
