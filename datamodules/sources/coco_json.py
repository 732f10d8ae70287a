"""Reading a COCO annotation json (instances, person keypoints) once, with the checks every reader needs.

The COCO sources (``coco.COCODetection``, ``coco_keypoints.COCOKeypoints``) index the same
three lists; a file that lacks one, or whose images lack the fields the sources look up,
fails here with a ``DatasetError`` naming the file and what is wrong, instead of a
``KeyError`` deep inside a loader worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.errors import DatasetError

_LISTS = ("images", "annotations", "categories")
_IMAGE_FIELDS = ("id", "file_name", "width", "height")


def read_coco_json(path: Path, kind: str, layout: str = "") -> dict[str, Any]:
    """The parsed json of a COCO annotation file, checked.

    Args:
        path: the annotation json.
        kind: what the file should be ("instances", "keypoints"), named in messages.
        layout: the expected dataset layout, appended when the file is missing.

    Returns:
        The json object; ``images``, ``annotations`` and ``categories`` are lists, every image
        has ``id``, ``file_name``, ``width`` and ``height``, every category an ``id``.

    Raises:
        DatasetError: the file is missing, is not json, lacks one of the lists, or an image or
            category lacks a field; the message names the file (and the entry).
    """
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file is missing.\n{layout}".rstrip())
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not a COCO annotation file (not json: {e}).") from e
    missing = [k for k in _LISTS if not isinstance(data, dict) or not isinstance(data.get(k), list)]
    if missing:
        raise DatasetError(f"{path}: not a COCO {kind} file (no {', '.join(missing)} list).")
    for i, image in enumerate(data["images"]):
        lacking = [f for f in _IMAGE_FIELDS if not isinstance(image, dict) or f not in image]
        if lacking:
            raise DatasetError(f"{path}: images[{i}] has no {', '.join(lacking)}.")
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or "id" not in cat:
            raise DatasetError(f"{path}: categories[{i}] has no id.")
    return data
