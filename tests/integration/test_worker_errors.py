"""Bad image folders end in one line and exit code 2 (a corrupt file read in a worker, images of the
wrong size), or, with ``bad_images: skip``, in a run whose results.json lists what it skipped."""

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, results_of, run_paperlab

DEMO = str(ROOT / "configs/alexnet/demo.yaml")


def _image_folder(root, corrupt_split: str, side: int = 64):
    """train/ and val/ with two classes of four PNGs each, one of them random bytes."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    bad = root / corrupt_split / "b" / "bad.png"
    bad.write_bytes(rng.bytes(200))
    return bad


@pytest.mark.parametrize("split", ["train", "val"])
def test_corrupt_image_in_a_worker_is_one_line_and_exit_2(tmp_path, split):
    bad = _image_folder(tmp_path / "data", corrupt_split=split)
    proc = run_paperlab("fit", "--config", DEMO, "--data.init_args.source", "imagefolder",
                        "--data.init_args.root", str(tmp_path / "data"), "--data.init_args.num_workers", "1",
                        "--data.init_args.batch_size", "4", "--data.init_args.augment", "none",
                        "--model.init_args.num_classes", "2", "--trainer.max_epochs", "1",
                        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("paperlab: error: ") and str(bad) in lines[-1], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "worker process" not in proc.stderr
    # The error is one line; what precedes it is Lightning's own start-up chatter (seed, devices, tips).
    assert sum(bad.name in line for line in lines) == 1 and len(lines) < 12, proc.stderr


def _fit(tmp_path, *extra: str):
    return run_paperlab("fit", "--config", DEMO, "--data.init_args.source", "imagefolder",
                        "--data.init_args.root", str(tmp_path / "data"), "--data.init_args.batch_size", "4",
                        "--model.init_args.num_classes", "2", "--trainer.max_epochs", "1",
                        "--trainer.enable_progress_bar", "false", *extra, cwd=tmp_path)


def test_images_smaller_than_image_size_with_a_size_keeping_recipe_is_one_line_and_exit_2(tmp_path):
    _image_folder(tmp_path / "data", corrupt_split="train", side=32)
    (tmp_path / "data/train/b/bad.png").unlink()
    proc = _fit(tmp_path, "--data.init_args.augment", "flip", "--trainer.logger", "false")
    assert proc.returncode == 2, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("paperlab: error: ") and "32" in last and "64" in last and "vgg" in last, last
    assert "Traceback" not in proc.stderr and "max_pool2d" not in proc.stderr


def test_bad_images_skip_lists_the_file_in_results_json(tmp_path):
    bad = _image_folder(tmp_path / "data", corrupt_split="train")
    proc = _fit(tmp_path, "--data.init_args.augment", "none", "--data.init_args.bad_images", "skip")
    assert proc.returncode == 0, proc.stderr[-3000:]
    meta = results_of(proc)["meta"]
    assert meta["skipped_count"] == 1 and meta["skipped_files"][0].startswith(f"{bad}: "), meta
