"""experiments.gan_probes (the CGAN diagnostics in docs/ANALYSES.md) runs each mode and reports figures in range."""

from __future__ import annotations

import re

import pytest

from experiments.gan_probes import main


@pytest.mark.parametrize("mode", ["gan", "recon", "render"])
def test_probe_prints_accuracies_in_range_and_writes_its_grid(mode, tmp_path, capsys):
    out = tmp_path / "grid.png"
    main(["--mode", mode, "--steps", "2", "--every", "2", "--train_size", "64", "--bs", "8", "--gw", "8",
          "--dw", "8", "--up", "nearest", "--save", str(out)])
    text = capsys.readouterr().out
    key = {"gan": "cond_acc", "recon": "recon kind-acc", "render": "render kind-acc"}[mode]
    acc = float(re.search(rf"{key} ([0-9.]+)", text).group(1))
    assert 0.0 <= acc <= 1.0 and out.stat().st_size > 0
