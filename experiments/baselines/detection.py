"""Trivial detectors: what a detector that never looks at the image scores on a config's data.

The trivial detectors know nothing of the image: for every class they predict one box with a
constant score, either covering the whole image ("full_image_box") or centred with the median
size of the evaluated objects ("centred_median_box", a slightly informed prior); masks fill the
box. Its mAP is the floor a detection demo's number must be read against. Same metric code as the modules
(``lit_modules.detection.map_metric``: COCOeval's numbers).
"""

from __future__ import annotations

import lightning as L
import torch

from contracts.hooks import hook

# Private names of lit_modules.detection, imported until the library makes them public (the same
# metric object and target format the modules score with, so the floor is measured alike).
from lit_modules.detection import DetectionModule, map_metric

OVERRIDES: list[str] = []


def trivial_predictions(image: torch.Tensor, num_classes: int, masks: bool,
                        size: tuple[float, float] | None = None) -> dict[str, torch.Tensor]:
    """One box per class: the whole image, or centred with ``size`` (w, h) when given."""
    h, w = image.shape[-2:]
    bw, bh = size or (w, h)
    box = torch.tensor([[(w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2]])
    pred = {"boxes": box.repeat(num_classes, 1), "scores": torch.ones(num_classes),
            "labels": torch.arange(1, num_classes + 1)}
    if masks:
        m = torch.zeros(h, w, dtype=torch.bool)
        x0, y0, x1, y1 = box[0].round().long().tolist()
        m[y0:y1, x0:x1] = True
        pred["masks"] = m.expand(num_classes, h, w)
    return pred


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """mAP of the "full" and the "centre" trivial detectors on the config's validation split."""
    dm.setup("validate")
    masks = bool(model.masks)  # DetectionModule's own flag: Mask R-CNN is scored on its masks too
    n = int(hook(dm, "num_classes"))
    batches = list(dm.val_dataloader())
    wh = torch.cat([t["boxes"][:, 2:] - t["boxes"][:, :2] for _, ts in batches for t in ts])
    median = tuple(wh.median(0).values.tolist())
    keys = {"val/map": "map", "val/map50": "map_50"} | ({"val/segm_map": "segm_map", "val/segm_map50": "segm_map_50"}
                                                         if masks else {})
    out = {}
    for kind, size in (("full_image_box", None), ("centred_median_box", median)):
        metric = map_metric(masks)
        for images, targets in batches:
            preds = [trivial_predictions(i, n, masks, size) for i in images]
            metric.update(DetectionModule.for_metric(preds), DetectionModule.for_metric(targets))
        r = metric.compute()
        out[kind] = {k: float(r[("bbox_" + v) if masks and not v.startswith("segm") else v]) for k, v in keys.items()}
    return out
