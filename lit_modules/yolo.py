"""YOLO — Redmon et al., "You Only Look Once: Unified, Real-Time Object Detection" (CVPR 2016).

The idea: detection as one regression. The image is divided into an S x S grid; each cell
predicts B boxes with confidences and one class distribution, all from a single forward pass
of one network, trained with a sum-squared loss that up-weights coordinates (λcoord = 5) and
down-weights empty boxes (λnoobj = 0.5) and regresses square-rooted sizes so that an error on a
small box costs more. ``head="anchors"`` swaps in the v3-style (Redmon 2018) multi-scale,
anchor-relative head and its logistic losses for the ablation v1 vs anchors.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.detection import DetectionModule
from lit_modules.losses.yolo import yolo_anchor_loss, yolo_v1_loss
from lit_modules.nets.det_backbones import IMAGENET_MEAN, IMAGENET_STD, load_local
from lit_modules.nets.yolo import YOLO
from lit_modules.ops.stages import Stopwatch
from lit_modules.ops.yolo import decode_anchors, decode_v1, encode_anchors, encode_v1, postprocess


class YOLOModule(DetectionModule):
    """YOLO v1 or v3-style anchors; defaults are the v1 paper's net (S=7, B=2); its recipe is in ``configs/yolo/voc07.yaml``.

    The optimisation arguments (lr ... media_images) are ``DetectionModule``'s, passed on by keyword.
    Images must share one size (``DetectionDataModule(resize="square")`` or ShapesWorld).

    Args:
        num_classes: C.
        head: "v1" (grid) or "anchors" (v3-style).
        width: first-stage channels of the Darknet-style backbone.
        stages: backbone stages (v1 grid map stride ``2**stages``).
        grid: v1's S.
        boxes_per_cell: v1's B.
        fc_hidden: v1's fully connected width (paper 4096; 0 = conv head).
        anchors: anchor (w, h) in pixels per scale, finest scale first (v3: 3 scales x 3).
        lambda_coord: v1 coordinate weight.
        lambda_noobj: confidence weight of boxes without an object.
        score_thresh: class-score threshold before NMS.
        nms_iou: per-class NMS IoU.
        max_det: detections kept per image.
        image_mean: normalisation mean (RGB, [0, 1] scale).
        image_std: normalisation std.
        weights: local checkpoint of the whole network.
    """


    def __init__(
        self,
        num_classes: int = 20,
        head: Literal["v1", "anchors"] = "v1",
        width: int = 32,
        stages: int = 6,
        grid: int = 7,
        boxes_per_cell: int = 2,
        fc_hidden: int = 4096,
        anchors: list[list[tuple[int, int]]] = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],  # noqa: B006
                                                [(116, 90), (156, 198), (373, 326)]],
        lambda_coord: float = 5.0,
        lambda_noobj: float = 0.5,
        score_thresh: float = 0.01,
        nms_iou: float = 0.5,
        max_det: int = 100,
        image_mean: tuple[float, float, float] = IMAGENET_MEAN,
        image_std: tuple[float, float, float] = IMAGENET_STD,
        weights: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = YOLO(num_classes, head, width, stages, grid, boxes_per_cell, fc_hidden,
                        num_scales=len(anchors), anchors_per_scale=len(anchors[0]))
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)  # (scales, A, 2)
        self.strides = [2 ** (stages - len(anchors) + 1 + s) for s in range(len(anchors))]
        self.register_buffer("mean", torch.tensor(image_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(image_std).view(1, 3, 1, 1), persistent=False)
        load_local(self.net, weights, "detector")

    def _run(self, images: list[Tensor]) -> tuple[Tensor | list[Tensor], tuple[int, int]]:
        if len({tuple(i.shape) for i in images}) > 1:
            raise ConfigError("YOLO needs images of one size: set data.init_args.resize: square")
        x = (torch.stack(images) - self.mean) / self.std  # (B, 3, H, W)
        return self.net(x), tuple(x.shape[-2:])

    def losses(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        hp = self.hparams
        out, size = self._run(images)
        if hp.head == "v1":
            t = torch.stack([encode_v1(d["boxes"], d["labels"], hp.grid, hp.num_classes, size) for d in targets])
            return yolo_v1_loss(out, t, hp.boxes_per_cell, hp.lambda_coord, hp.lambda_noobj)
        per_image = [encode_anchors(d["boxes"].cpu(), d["labels"].cpu(), self.anchors.cpu(), self.strides, size)
                     for d in targets]
        ts = [torch.stack(s).to(self.device) for s in zip(*per_image)]  # per scale (B, A, H_s, W_s, 6)
        return yolo_anchor_loss(out, ts, self.anchors, size, hp.lambda_noobj)

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        out, size = self._run(images)
        return self._detections(out, size)

    def detect_stages(self, images: list[Tensor]) -> tuple[list[dict[str, Tensor]], dict[str, float]]:
        """``forward`` in eval mode, timed: "features" (normalise, backbone), "head" (head, decoding, NMS)."""
        sw = Stopwatch()
        with sw("features"):
            x = (torch.stack(images) - self.mean) / self.std  # (B, 3, H, W)
            feats = self.net.backbone(x)
        with sw("head"):
            net = self.net
            out = net.head(feats[-1]) if net.kind == "v1" else net.head(feats[-net.num_scales:])
            dets = self._detections(out, tuple(x.shape[-2:]))
        return dets, sw.seconds

    def _detections(self, out: Tensor | list[Tensor], size: tuple[int, int]) -> list[dict[str, Tensor]]:
        hp = self.hparams
        if hp.head == "v1":
            boxes, scores = decode_v1(out, hp.boxes_per_cell, size)
        else:
            boxes, scores = decode_anchors(out, self.anchors, self.strides)
        return [postprocess(b, s, size, hp.score_thresh, hp.nms_iou, hp.max_det) for b, s in zip(boxes, scores)]
