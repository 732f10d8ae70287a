"""COCO json and VOC XML sources on fixtures written in the real on-disk formats, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from contracts.errors import DatasetError
from datamodules.detection import DetectionDataModule, DetectionTransform
from datamodules.sources.coco import COCODetection
from datamodules.sources.voc import VOCDetection


def _image(path: Path, w: int = 40, h: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _coco(root: Path, annotations: list[dict] | None = None) -> Path:
    _image(root / "val2017" / "000000000001.jpg")
    _image(root / "val2017" / "000000000002.png")
    rle = mask_utils.encode(np.asfortranarray(np.pad(np.ones((4, 6), np.uint8), ((10, 16), (20, 14)))))
    rle["counts"] = rle["counts"].decode()  # compressed RLE as COCO json stores it
    anns = annotations if annotations is not None else [
        {"id": 10, "image_id": 1, "category_id": 18, "bbox": [5, 5, 10, 8], "area": 80, "iscrowd": 0,
         "segmentation": [[5, 5, 15, 5, 15, 13, 5, 13]]},                       # polygon, label 2
        {"id": 11, "image_id": 1, "category_id": 3, "bbox": [20, 10, 6, 4], "area": 24, "iscrowd": 0,
         "segmentation": rle},                                                  # compressed RLE, label 1
        {"id": 12, "image_id": 2, "category_id": 3, "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 1,
         "segmentation": {"size": [30, 40], "counts": [0, 10, 20, 10, 1160]}},  # crowd, uncompressed RLE: column-major runs, 2 columns of 10 px
        {"id": 13, "image_id": 2, "category_id": 18, "bbox": [30, 20, 0, 5], "area": 0, "iscrowd": 0,
         "segmentation": [[30, 20, 30, 25, 31, 25]]},                            # zero width: skipped
    ]
    data = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 40, "height": 30},
                       {"id": 2, "file_name": "000000000002.png", "width": 40, "height": 30}],
            "annotations": anns,
            "categories": [{"id": 3, "name": "car"}, {"id": 18, "name": "dog"}]}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def test_coco_boxes_labels_masks_and_crowd(tmp_path):
    ds = COCODetection(_coco(tmp_path), "val2017", masks=True)
    assert len(ds) == 2 and ds.num_classes == 2 and ds.classes == ["car", "dog"]
    image, t = ds[0]
    assert image.shape == (3, 30, 40) and image.dtype == torch.uint8
    assert torch.equal(t["boxes"], torch.tensor([[5.0, 5, 15, 13], [20, 10, 26, 14]]))  # xywh -> xyxy
    assert t["labels"].tolist() == [2, 1]  # category ids 3, 18 -> contiguous 1, 2
    assert t["masks"].shape == (2, 30, 40) and t["masks"].dtype == torch.uint8
    assert t["masks"][1].sum() == 24 and t["masks"][1][10:14, 20:26].all()  # RLE decoded in place
    assert t["masks"][0][6:12, 6:14].all() and t["masks"][0][20:].sum() == 0  # polygon filled
    _, t2 = ds[1]
    assert t2["iscrowd"].tolist() == [1] and t2["masks"][0][:10, :2].all() and t2["masks"][0].sum() == 20  # zero-width box skipped


def test_crowd_dropped_from_training_targets_kept_for_eval(tmp_path):
    ds = COCODetection(_coco(tmp_path), "val2017", masks=True)
    _, train_t = DetectionTransform(True, "none", None)(*ds[1])
    image, eval_t = DetectionTransform(False, "none", None)(*ds[1])
    assert len(train_t["boxes"]) == 0 and len(train_t["masks"]) == 0
    assert eval_t["iscrowd"].tolist() == [1] and image.dtype == torch.float32 and image.max() <= 1


@pytest.mark.parametrize("bad, message", [
    ({"id": 7, "image_id": 1, "category_id": 99, "bbox": [1, 1, 2, 2], "iscrowd": 0, "segmentation": []},
     "annotation id 7"),
    ({"id": 8, "image_id": 1, "category_id": 3, "bbox": [50, 1, 2, 2], "iscrowd": 0, "segmentation": []},
     "annotation id 8"),
])
def test_coco_bad_annotations_name_file_and_id(tmp_path, bad, message):
    root = _coco(tmp_path, [bad])
    with pytest.raises(DatasetError, match=message) as e:
        COCODetection(root, "val2017", bad_boxes="error")
    assert "instances_val2017.json" in str(e.value)


def test_coco_skips_and_counts_bad_boxes(tmp_path, caplog):
    root = _coco(tmp_path, [{"id": 8, "image_id": 1, "category_id": 3, "bbox": [50, 1, 2, 2], "iscrowd": 0}])
    ds = COCODetection(root, "val2017")
    assert len(ds[0][1]["boxes"]) == 0 and "skipped 1" in caplog.text


def test_coco_not_json_and_missing_image(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text("<xml/>")
    with pytest.raises(DatasetError, match="not a COCO"):
        COCODetection(tmp_path, "val2017")
    root = _coco(tmp_path / "c")
    (root / "val2017" / "000000000002.png").unlink()
    with pytest.raises(DatasetError, match="000000000002.png: image file is missing"):
        COCODetection(root, "val2017")[1]


def _voc(root: Path, objects: str) -> Path:
    _image(root / "JPEGImages" / "000005.jpg", 50, 40)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "trainval.txt").write_text("000005\n")
    (root / "Annotations").mkdir()
    (root / "Annotations" / "000005.xml").write_text(
        f"<annotation><folder>VOC2007</folder><filename>000005.jpg</filename>"
        f"<size><width>50</width><height>40</height><depth>3</depth></size>{objects}</annotation>")
    return root


def _obj(name: str, box: tuple[int, int, int, int], difficult: int = 0) -> str:
    return (f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax><ymax>{box[3]}</ymax></bndbox></object>")


def test_voc_07_plus_12_difficult_flag(tmp_path):
    r07 = _voc(tmp_path / "VOC2007", _obj("chair", (2, 3, 20, 30)) + _obj("dog", (10, 10, 50, 40), difficult=1))
    r12 = _voc(tmp_path / "VOC2012", _obj("person", (1, 1, 5, 5)))
    ds = VOCDetection([r07, r12], "trainval")
    assert len(ds) == 2
    image, t = ds[0]
    assert image.shape == (3, 40, 50)
    assert torch.equal(t["boxes"], torch.tensor([[1.0, 2, 20, 30], [9, 9, 50, 40]]))  # 1-based -> 0-based
    assert t["labels"].tolist() == [9, 12] and t["difficult"].tolist() == [0, 1]
    assert ds[1][1]["labels"].tolist() == [15] and ds[1][1]["image_id"] == "VOC2012/000005"
    _, train_t = DetectionTransform(True, "none", None)(*ds[0])
    assert train_t["labels"].tolist() == [9]  # difficult dropped from training by default
    _, kept = DetectionTransform(True, "none", None, use_difficult=True)(*ds[0])
    assert kept["labels"].tolist() == [9, 12]
    _, eval_t = DetectionTransform(False, "none", None)(*ds[0])
    assert eval_t["iscrowd"].tolist() == [0, 1]  # the metric ignores difficult objects


def test_voc_bad_input(tmp_path):
    root = _voc(tmp_path / "a", _obj("unicorn", (2, 3, 20, 30)))
    with pytest.raises(DatasetError, match=r"000005.xml: object 0: class 'unicorn'"):
        VOCDetection(root)[0]
    root = _voc(tmp_path / "b", _obj("dog", (20, 3, 15, 30)))
    with pytest.raises(DatasetError, match=r"000005.xml: object 0 \(dog\): .* zero area"):
        VOCDetection(root)[0]
    with pytest.raises(DatasetError, match="trainval.txt: split file is missing"):
        VOCDetection(tmp_path / "nothing")


def test_flip_and_resize_move_boxes_and_masks_with_pixels():
    image = torch.zeros(3, 20, 40, dtype=torch.uint8)
    image[:, 5:10, 2:8] = 255
    mask = (image[0] > 0).to(torch.uint8)[None]
    target = {"boxes": torch.tensor([[2.0, 5, 8, 10]]), "labels": torch.tensor([1]), "masks": mask}
    torch.manual_seed(0)
    tf = DetectionTransform(True, "flip", 80)
    for _ in range(8):  # both flip outcomes occur
        out, t = tf(image, target)
        assert out.shape == (3, 80, 80) and t["masks"].shape == (1, 80, 80)
        ys, xs = (out[0] > 0.5).nonzero(as_tuple=True)
        box = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]).float()
        assert torch.allclose(t["boxes"][0], box, atol=2.5)
        assert (t["masks"][0].bool() == (out[0] > 0.5)).float().mean() > 0.98


def test_datamodule_shapes_batch_contract():
    dm = DetectionDataModule(image_size=64, world={"image_size": 64}, masks=True, batch_size=4,
                             train_size=8, val_size=4)
    dm.setup("fit")
    images, targets = next(iter(dm.train_dataloader()))
    assert isinstance(images, list) and len(images) == 4 and images[0].shape == (3, 64, 64)
    assert images[0].dtype == torch.float32 and 0 <= images[0].min() and images[0].max() <= 1
    t = targets[0]
    assert t["boxes"].dtype == torch.float32 and t["boxes"].shape[1] == 4
    assert t["labels"].dtype == torch.int64 and t["labels"].min() >= 1 and t["labels"].max() <= dm.num_classes
    assert t["masks"].dtype == torch.uint8 and t["masks"].shape[1:] == (64, 64)


@pytest.mark.parametrize("masks", [True, False])
def test_shapes_cache_serves_the_same_scenes_unchanged(masks):
    # The cache must change speed only: same samples as rendering afresh, untouched by the
    # (in-place-looking) augmentation, and no masks carried for box-only detectors.
    kw = {"image_size": 64, "world": {"image_size": 64}, "masks": masks, "augment": "flip", "train_size": 6,
          "val_size": 2}
    cached, fresh = DetectionDataModule(cache=True, **kw), DetectionDataModule(cache=False, **kw)
    cached.setup("fit"), fresh.setup("fit")
    scenes = cached._train.base
    first = [scenes[i] for i in range(6)]
    for _ in range(3):  # random flips of the cached scenes
        [cached._train[i] for i in range(6)]
    for i in range(6):
        image, target = scenes[i]
        assert image is first[i][0]  # served from memory, not re-rendered
        ref_image, ref_target = fresh._train.base[i]
        assert torch.equal(image, ref_image) and torch.equal(target["boxes"], ref_target["boxes"])
        assert ("masks" in target) == masks


def test_check_data_fails_fast_with_layout(tmp_path):
    with pytest.raises(DatasetError, match="instances_train2017.json"):
        DetectionDataModule.check_data("coco", str(tmp_path))
    with pytest.raises(DatasetError, match="ImageSets/Main/trainval.txt"):
        DetectionDataModule.check_data("voc", [str(tmp_path)])


def test_datamodule_voc_07_plus_12_square_resize(tmp_path):
    r07 = _voc(tmp_path / "VOC2007", _obj("chair", (2, 3, 20, 30)) + _obj("dog", (10, 10, 50, 40), difficult=1))
    (r07 / "ImageSets" / "Main" / "test.txt").write_text("000005\n")
    r12 = _voc(tmp_path / "VOC2012", _obj("person", (1, 1, 5, 5)))
    dm = DetectionDataModule("voc", root=[str(r07), str(r12)], image_size=100, augment="none", batch_size=2,
                             num_workers=0)
    dm.setup("fit")
    images, targets = next(iter(dm.train_dataloader()))
    assert [tuple(i.shape) for i in images] == [(3, 100, 100)] * 2 and dm.num_classes == 20
    # 50x40 -> 100x100: x doubles, y x2.5; the difficult dog is not a training target
    chair = next(t for t in targets if 9 in t["labels"].tolist())
    assert torch.allclose(chair["boxes"], torch.tensor([[2.0, 5, 40, 75]])) and chair["labels"].tolist() == [9]
    val_images, val_targets = next(iter(dm.val_dataloader()))
    assert len(val_images) == 1 and val_targets[0]["iscrowd"].tolist() == [0, 1]  # val_root = first root
