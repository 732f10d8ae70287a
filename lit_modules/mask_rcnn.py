"""Mask R-CNN — He, Gkioxari, Dollár, Girshick, "Mask R-CNN" (ICCV 2017).

The idea: Faster R-CNN plus a small FCN branch that predicts a 28x28 binary mask per RoI and
per class (no competition between classes: a per-pixel sigmoid, the class chosen by the box
branch), fed by RoIAlign, whose bilinear sampling keeps the pixel-to-pixel alignment that
RoIPool's quantisation loses (``roi_op`` is the paper's Table 2c ablation).
"""

from __future__ import annotations

from torch import Tensor

from lit_modules.faster_rcnn import FasterRCNNModule


class MaskRCNNModule(FasterRCNNModule):
    """Mask R-CNN; arguments as ``FasterRCNNModule`` (defaults there are Faster R-CNN's; the
    Mask R-CNN configs set ``roi_op: align`` and an FPN backbone). Logs ``segm_map``/``segm_map50``.
    """

    primary_metric = "val/segm_map50"
    method_label = "Mask R-CNN"  # the report's Method column (experiments.method)

    masks = True

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        preds = self.net(images)
        for p in preds:  # soft (N, 1, H, W) masks pasted into the image -> binary (N, H, W)
            p["masks"] = p["masks"][:, 0] > 0.5
        return preds
