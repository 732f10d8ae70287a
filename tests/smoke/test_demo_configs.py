"""Every ``configs/*/demo.yaml``, found by glob, runs one train and one val batch."""

import pytest

from tests.conftest import DEMOS, ROOT, paperlab_in_process


@pytest.mark.parametrize("config", DEMOS, ids=[p.parent.name for p in DEMOS])
def test_demo_config_fast_dev_run(config, tmp_path):
    """In-process (no logger, no checkpoint): a subprocess would spend most of its 7 s importing."""
    code, _, stderr = paperlab_in_process("fit", "--config", str(ROOT / "configs/trainer/smoke.yaml"),
                                          "--config", str(config), "--data.init_args.train_size", "128",
                                          "--data.init_args.val_size", "64", cwd=tmp_path)
    assert code == 0, stderr[-4000:]


PAPER_CONFIGS = sorted(p for p in ROOT.glob("configs/*/*.yaml")
                       if p.name != "demo.yaml" and p.parent.name not in ("trainer", "sweeps"))


@pytest.mark.parametrize("config", PAPER_CONFIGS, ids=[f"{p.parent.name}-{p.stem}" for p in PAPER_CONFIGS])
def test_paper_config_without_data_fails_fast(config, tmp_path):
    """A paper recipe whose dataset is absent exits 2 with the expected layout, no traceback.

    In-process: the check runs before any model is built, so a subprocess would mostly import.
    """
    missing = tmp_path / "no-such-dataset"
    code, _, stderr = paperlab_in_process("fit", "--config", str(config), "--data.init_args.root", str(missing),
                                          cwd=tmp_path)
    assert code == 2, stderr[-3000:]
    assert str(missing) in stderr and "Traceback" not in stderr
    assert "paper" in config.read_text()  # every paper recipe carries its reported number
