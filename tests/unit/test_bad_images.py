"""``bad_images: skip`` in the detection and segmentation sources: unreadable files dropped and listed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contracts.errors import DatasetError
from datamodules.sources.coco import COCODetection
from datamodules.sources.segmentation import PetSegmentation
from datamodules.sources.voc import VOCDetection


def _png(path: Path, truncated: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(path, "PNG")
    if truncated:
        path.write_bytes(path.read_bytes()[:200])


def test_coco_skip_drops_and_lists_unreadable_images(tmp_path):
    _png(tmp_path / "val2017" / "1.jpg")
    _png(tmp_path / "val2017" / "2.jpg", truncated=True)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps({
        "images": [{"id": i, "file_name": f"{i}.jpg", "width": 40, "height": 30} for i in (1, 2, 3)],
        "annotations": [], "categories": [{"id": 1, "name": "a"}]}))
    ds = COCODetection(tmp_path, "val2017", bad_images="skip")
    assert [im["id"] for im in ds.images] == [1]
    assert len(ds.skipped_files) == 2 and "2.jpg" in ds.skipped_files[0] and "3.jpg" in ds.skipped_files[1]
    assert len(COCODetection(tmp_path, "val2017").images) == 3  # "error": nothing checked up front


def test_voc_and_pets_skip(tmp_path):
    voc = tmp_path / "VOC2007"
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    (voc / "ImageSets" / "Main" / "test.txt").write_text("a\nb\n")
    _png(voc / "JPEGImages" / "a.jpg")
    (voc / "JPEGImages" / "b.jpg").write_text("not an image")
    ds = VOCDetection(voc, "test", bad_images="skip")
    assert [i for _, i in ds.items] == ["a"] and "b.jpg" in ds.skipped_files[0]
    pets = tmp_path / "pets"
    (pets / "annotations").mkdir(parents=True)
    (pets / "annotations" / "test.txt").write_text("x 1 1 1\ny 1 1 1\n")
    _png(pets / "images" / "x.jpg", truncated=True)
    _png(pets / "images" / "y.jpg")
    assert PetSegmentation(pets, "test", bad_images="skip").ids == ["y"]
    with pytest.raises(DatasetError, match="x.jpg"):
        PetSegmentation(pets, "test")[0]
