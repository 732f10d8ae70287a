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
