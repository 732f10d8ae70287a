"""A DatasetError raised in a DataLoader worker reaches the user as one line and exit code 2."""

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, run_paperlab

DEMO = str(ROOT / "configs/alexnet/demo.yaml")


def _image_folder(root, corrupt_split: str):
    """train/ and val/ with two classes of four 64 px PNGs each, one of them random bytes."""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for cls in ("a", "b"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
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
