"""A paper config that fine-tunes torchvision ImageNet weights runs one step offline from the hub cache (and
predicts from its checkpoint without the file); without the file there, one line naming the cache path and
the URL, exit code 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.models import get_model_weights, resnet50

from tests.conftest import ROOT, paperlab_in_process, results_of, run_paperlab

CONFIG = str(ROOT / "configs/faster_rcnn/voc07.yaml")


def _voc(root: Path, n: int = 2) -> Path:
    """A VOC2007 folder of ``n`` random 64x48 images with one 'dog' box each, in trainval and test."""
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = [f"{i:06d}" for i in range(n)]
    for i in ids:
        Image.fromarray(np.random.default_rng(int(i)).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
            root / "JPEGImages" / f"{i}.jpg")
        (root / "Annotations" / f"{i}.xml").write_text(
            "<annotation><size><width>64</width><height>48</height><depth>3</depth></size><object><name>dog</name>"
            "<difficult>0</difficult><bndbox><xmin>5</xmin><ymin>6</ymin><xmax>40</xmax><ymax>30</ymax></bndbox>"
            "</object></annotation>")
    for split in ("trainval", "test"):
        (root / "ImageSets/Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


# The R50-FPN reproduction row of voc07.yaml at toy sizes: resnet50's 100 MB state dict instead of VGG-16's 550 MB.
SMALL = ["--model.init_args.backbone", "resnet50_fpn", "--model.init_args.roi_op", "align",
         "--model.init_args.representation", "64", "--model.init_args.min_size", "64",
         "--model.init_args.max_size", "64", "--model.init_args.rpn_post_nms_train", "50",
         "--model.init_args.rpn_post_nms_test", "20", "--data.init_args.batch_size", "1",
         "--data.init_args.num_workers", "0"]


def _data(tmp_path: Path) -> list[str]:
    root = _voc(tmp_path / "VOC2007")
    return ["--data.init_args.root", f"[{root}]", "--data.init_args.val_root", str(root)]


def test_voc07_fine_tunes_from_the_hub_cache_offline(tmp_path, monkeypatch):
    url = get_model_weights("resnet50")["IMAGENET1K_V1"].url
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(resnet50().state_dict(), cache / url.rsplit("/", 1)[1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # run_paperlab passes os.environ on
    proc = run_paperlab("fit", "--config", CONFIG, *_data(tmp_path), *SMALL, "--trainer.max_steps", "1",
                        "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                        cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    # predict needs no ImageNet file: the checkpoint holds every weight (FrozenBatchNorm -> BatchNorm in eval)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    ckpt = Path(results_of(proc)["_path"]).parent / "checkpoints" / "last.ckpt"
    pred = run_paperlab("predict", "--config", CONFIG, *_data(tmp_path), *SMALL, "--ckpt_path", str(ckpt),
                        cwd=tmp_path, timeout=300)
    assert pred.returncode == 0, pred.stderr[-4000:]
    assert (ckpt.parent.parent / "predictions" / "detections.json").is_file()


def test_voc07_without_cached_weights_is_one_line_naming_cache_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    import urllib.error

    def offline(*a, **k):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)  # the test machine may be online
    url = get_model_weights("vgg16")["IMAGENET1K_V1"].url
    code, _, err = paperlab_in_process("fit", "--config", CONFIG, *_data(tmp_path), cwd=tmp_path)
    assert code == 2, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("paperlab: error: model.init_args.weights_backbone") and "Traceback" not in err
    assert url in line and str(tmp_path / "empty" / "hub" / "checkpoints" / "vgg16-397923af.pth") in line
