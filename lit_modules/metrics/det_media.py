"""W&B media for detection: validation images with predicted and true boxes (and masks)."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor


def _boxes(d: dict[str, Tensor], min_score: float) -> list[dict[str, Any]]:
    scores = d.get("scores")
    out = []
    for i, (box, label) in enumerate(zip(d["boxes"].tolist(), d["labels"].tolist())):
        s = 1.0 if scores is None else float(scores[i])
        if s >= min_score:
            x0, y0, x1, y1 = box
            out.append({"position": {"minX": x0, "minY": y0, "maxX": x1, "maxY": y1}, "domain": "pixel",
                        "class_id": int(label), "box_caption": f"{label}:{s:.2f}", "scores": {"score": s}})
    return out


def _class_map(d: dict[str, Tensor], shape: tuple[int, int], min_score: float) -> np.ndarray:
    out = np.zeros(shape, np.int64)  # 0 = background, k = label
    scores = d.get("scores")
    for i in range(len(d["masks"])):
        if scores is None or float(scores[i]) >= min_score:
            out[d["masks"][i].bool().numpy()] = int(d["labels"][i])
    return out


def log_detection_media(run: Any, samples: list[tuple[Tensor, dict, dict]], key: str,
                        step: int | None = None, min_score: float = 0.5) -> None:
    """Send ``(image (3, H, W) in [0, 1], prediction, target)`` triples to a wandb run.

    ``step`` is logged as ``trainer/global_step``, the x-axis Lightning's WandbLogger uses.
    """
    import wandb

    images = []
    for image, pred, target in samples:
        shape = tuple(image.shape[-2:])
        boxes = {"predictions": {"box_data": _boxes(pred, min_score)},
                 "ground_truth": {"box_data": _boxes(target, 0.0)}}
        masks = None
        if "masks" in pred and "masks" in target:
            masks = {"predictions": {"mask_data": _class_map(pred, shape, min_score)},
                     "ground_truth": {"mask_data": _class_map(target, shape, 0.0)}}
        array = (image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8)  # (H, W, 3)
        images.append(wandb.Image(array, boxes=boxes, masks=masks))
    run.log({key: images} | ({"trainer/global_step": step} if step is not None else {}))
