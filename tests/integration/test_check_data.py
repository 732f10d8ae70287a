"""``paperlab check-data``: an ImageFolder with a truncated PNG and a non-image file lists both and exits 2;
a clean folder exits 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import ROOT, run_paperlab

CONFIG = str(ROOT / "configs/alexnet/imagenet.yaml")


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("n01", "n02"):
            for i in range(3):
                path = root / split / cls / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(path)
    return root


def test_check_data_lists_truncated_png_and_non_image_file(tmp_path):
    root = _folder(tmp_path / "imagenet")
    bad = root / "train" / "n02" / "1.png"
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    stray = root / "val" / "n01" / "notes.txt"
    stray.write_text("not an image")
    proc = run_paperlab("check-data", "--config", CONFIG, "--data.init_args.root", str(root), "--workers", "2",
                        cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert str(bad) in proc.stdout and str(stray) in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("paperlab: error: check-data: 2 problem(s)") and "Traceback" not in proc.stderr
    assert "unreadable image 1" in last and "non-image file 1" in last


def test_check_data_clean_folder_exits_0(tmp_path):
    root = _folder(tmp_path / "imagenet")
    proc = run_paperlab("check-data", "--config", CONFIG, "--data.init_args.root", str(root), "--workers", "2",
                        cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "check-data: clean, 12 samples read"


def test_check_data_on_voc_counts_bad_annotations_without_building_the_model(tmp_path):
    """voc07.yaml names ImageNet weights that are not here: check-data builds only the data."""
    from tests.integration.test_pretrained_weights import _voc

    root = _voc(tmp_path / "VOC2007", n=3)
    (root / "Annotations" / "000001.xml").write_text("<annotation><size>")  # malformed XML
    (root / "JPEGImages" / "000002.jpg").unlink()  # missing image
    proc = run_paperlab("check-data", "--config", str(ROOT / "configs/faster_rcnn/voc07.yaml"),
                        "--data.init_args.root", f"[{root}]", "--data.init_args.val_root", str(root),
                        "--workers", "0", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "000001.xml" in proc.stdout and "000002.jpg" in proc.stdout
    last = proc.stderr.strip().splitlines()[-1]
    assert "bad annotation 2" in last and "unreadable image 2" in last  # train and val read the same split files


def test_check_data_on_camvid_and_voc_sbd_names_each_bad_file(tmp_path):
    """Segmentation's real layouts: a mask of the wrong size, a class value outside the classes
    (11 = void is fine) and a missing split list, each one line naming the file; exit code 2."""
    from tests.conftest import paperlab_in_process
    from tests.unit.test_seg_sources_real import H, W, _camvid_all, _sbd_mat, _voc_sbd

    demo = str(ROOT / "configs/unet/demo.yaml")
    root = tmp_path / "CamVid"
    _camvid_all(root)
    Image.fromarray(np.zeros((H, W - 2), np.uint8), mode="L").save(root / "trainannot/0001TP_00train0.png")
    Image.fromarray(np.full((H, W), 12, np.uint8), mode="L").save(root / "valannot/0001TP_00val1.png")
    (root / "test.txt").unlink()
    code, out, err = paperlab_in_process("check-data", "--config", demo, "--data.init_args.source", "camvid",
                                         "--data.init_args.root", str(root), "--workers", "0", cwd=tmp_path)
    assert code == 2, out + err
    lines = out.splitlines()
    assert any("train: bad annotation:" in x and "trainannot/0001TP_00train0.png: mask is 14x12 px" in x for x in lines)
    assert any("val: bad annotation:" in x and "valannot/0001TP_00val1.png: class values [12]" in x for x in lines)
    assert any(x.strip() == f"test: split: {root / 'test.txt'}: split file is missing." for x in lines), out
    assert "bad annotation 2, split 1" in err.strip().splitlines()[-1]

    voc = tmp_path / "voc"
    _voc_sbd(voc)
    _sbd_mat(voc / "benchmark_RELEASE/dataset/cls/2007_00000d.mat", np.zeros((H - 1, W), np.uint8))
    code, out, err = paperlab_in_process("check-data", "--config", demo, "--data.init_args.source", "voc_sbd",
                                         "--data.init_args.root", str(voc), "--workers", "0", cwd=tmp_path)
    assert code == 2 and "cls/2007_00000d.mat: mask is 16x11 px but its image is 16x12 px" in out, out + err
    (voc / "benchmark_RELEASE/dataset/cls/2007_00000d.mat").unlink()
    (voc / "VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt").unlink()
    code, out, err = paperlab_in_process("check-data", "--config", demo, "--data.init_args.source", "voc_sbd",
                                         "--data.init_args.root", str(voc), "--workers", "0", cwd=tmp_path)
    assert code == 2 and f"val: split: {voc}/VOCdevkit/VOC2012/ImageSets/Segmentation/val.txt: split file is missing" in out


def test_fit_on_camvid_trains_then_stops_on_an_unknown_class_value_with_one_line(tmp_path):
    from tests.conftest import paperlab_in_process
    from tests.unit.test_seg_sources_real import H, W, _camvid_all

    root = tmp_path / "CamVid"
    _camvid_all(root)
    args = ("fit", "--config", str(ROOT / "configs/trainer/smoke.yaml"), "--config", str(ROOT / "configs/unet/demo.yaml"),
            "--data.init_args.source", "camvid", "--data.init_args.root", str(root),
            "--data.init_args.image_size", "[16, 24]", "--data.init_args.batch_size", "2",
            "--data.init_args.num_workers", "0", "--model.init_args.num_classes", "11")
    code, _, err = paperlab_in_process(*args, cwd=tmp_path)  # one train + one val batch, void pixels ignored
    assert code == 0, err[-3000:]
    bad = root / "valannot/0001TP_00val0.png"
    Image.fromarray(np.full((H, W), 40, np.uint8), mode="L").save(bad)
    code, _, err = paperlab_in_process(*args, cwd=tmp_path)
    assert code == 2, err[-3000:]
    last = err.strip().splitlines()[-1]  # (wandb may warn above it)
    assert last == f"paperlab: error: {bad}: class values [40] outside 0..10 (11 = void).", err[-3000:]
    assert "Traceback" not in err
