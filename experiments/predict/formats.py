"""Standard prediction files: COCO results and ground-truth json, PNG label maps, probability CSV, COCO captions.

Pure functions of tensors and lists, so the formats are tested without a model. COCO boxes are
``[x, y, width, height]`` in pixels of the image the model saw; masks are compressed RLE
(``pycocotools.mask.encode``, ``counts`` as a str, as COCO json stores it).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from torch import Tensor


def rle(mask: np.ndarray | Tensor) -> dict[str, Any]:
    """A binary (H, W) mask as COCO compressed RLE with a str ``counts``."""
    m = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    r = mask_utils.encode(m)
    r["counts"] = r["counts"].decode()
    return r


def _xywh(box: list[float]) -> list[float]:
    x0, y0, x1, y1 = box
    return [x0, y0, x1 - x0, y1 - y0]


def coco_results(preds: list[dict[str, Tensor]], image_ids: list[int], category_of: dict[int, int]) -> list[dict]:
    """COCO detection results: one entry per predicted box (``segmentation`` RLE when ``masks`` is there).

    Args:
        preds: per image ``boxes`` xyxy (N, 4), ``scores`` (N,), ``labels`` (N,) 1..K[, ``masks`` (N, H, W)].
        image_ids: the COCO image id of each image.
        category_of: label -> COCO category id.
    """
    out = []
    for p, image_id in zip(preds, image_ids, strict=True):
        masks = p.get("masks")
        for k, (box, score, label) in enumerate(zip(p["boxes"].tolist(), p["scores"].tolist(), p["labels"].tolist())):
            entry = {"image_id": image_id, "category_id": category_of[int(label)], "bbox": _xywh(box), "score": score}
            if masks is not None:
                entry["segmentation"] = rle(masks[k].cpu().numpy())
            out.append(entry)
    return out


def coco_ground_truth(targets: list[dict[str, Any]], sizes: list[tuple[int, int]], image_ids: list[int],
                      names: list[str], category_of: dict[int, int], file_names: list[str]) -> dict[str, Any]:
    """A COCO instances json of the targets the model was scored on (``iscrowd`` marks ignored objects).

    ``area`` is the mask's pixel count when there are masks, else the box's; the COCO mAP over all
    areas does not depend on it (only the small/medium/large breakdown does).
    """
    images, anns = [], []
    for t, (h, w), image_id, name in zip(targets, sizes, image_ids, file_names, strict=True):
        images.append({"id": image_id, "width": w, "height": h, "file_name": name})
        crowd = t.get("iscrowd", torch.zeros(len(t["labels"]), dtype=torch.uint8)).tolist()
        masks = t.get("masks")
        for k, (box, label) in enumerate(zip(t["boxes"].tolist(), t["labels"].tolist())):
            xywh = _xywh(box)
            ann = {"id": len(anns) + 1, "image_id": image_id, "category_id": category_of[int(label)],
                   "bbox": xywh, "area": xywh[2] * xywh[3], "iscrowd": int(crowd[k])}
            if masks is not None:
                ann["segmentation"] = rle(masks[k].cpu().numpy())
                ann["area"] = float(masks[k].sum())
            anns.append(ann)
    cats = [{"id": category_of[i + 1], "name": n} for i, n in enumerate(names)]
    return {"images": images, "annotations": anns, "categories": cats}


def image_keypoints(crop_kps: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(K, 2+) keypoints in crop pixels -> (K, 2) in image pixels, inverting the crop's (2, 3) affine ``m``."""
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
    xy = np.asarray(crop_kps, np.float64)[:, :2]
    return xy @ inv[:, :2].T + inv[:, 2]


def coco_keypoint_result(image_id: int, xy: np.ndarray, scores: np.ndarray, category_id: int = 1) -> dict[str, Any]:
    """One person in COCO's keypoint results format: ``keypoints`` flat (x, y, 1) per joint, ``score`` their mean."""
    flat = [v for (x, y) in xy.tolist() for v in (x, y, 1)]
    return {"image_id": image_id, "category_id": category_id, "keypoints": flat, "score": float(np.mean(scores))}


def write_label_maps(labels: Tensor, names: list[str], folder: Path) -> None:
    """One 8-bit PNG per (H, W) label map, pixel value = class index, named after ``names``."""
    folder.mkdir(parents=True, exist_ok=True)
    for lab, name in zip(labels, names, strict=True):
        Image.fromarray(lab.to(torch.uint8).cpu().numpy(), mode="L").save(folder / f"{name}.png")


def probability_rows(probs: Tensor, targets: Tensor | None, start: int) -> list[list[Any]]:
    """CSV rows ``index, target, predicted, p_0 .. p_{K-1}`` of a (B, K) probability batch."""
    t = targets.tolist() if targets is not None else [""] * len(probs)
    return [[start + i, t[i], int(p.argmax()), *(f"{v:.6g}" for v in p.tolist())] for i, p in enumerate(probs)]


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
