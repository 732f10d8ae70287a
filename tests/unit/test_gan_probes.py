"""experiments.gan_probes (the CGAN diagnostics in docs/ANALYSES.md) runs each mode and reports figures in range."""

from __future__ import annotations

import re

import pytest

from experiments.gan_probes import main


@pytest.mark.parametrize("mode", ["gan", "recon", "render"])
def test_probe_prints_accuracies_in_range_and_writes_its_grid(mode, tmp_path, capsys):
    out = tmp_path / "grid.png"
    main(["--mode", mode, "--steps", "2", "--every", "2", "--train_size", "64", "--bs", "8", "--gw", "8",
          "--dw", "8", "--save", str(out)] + (["--coord"] if mode == "render" else ["--up", "nearest"]))
    text = capsys.readouterr().out
    key = {"gan": "cond_acc", "recon": "recon kind-acc", "render": "render kind-acc"}[mode]
    acc = float(re.search(rf"{key} ([0-9.]+)", text).group(1))
    assert 0.0 <= acc <= 1.0 and out.stat().st_size > 0


def test_coord_generator_feeds_coordinates_to_every_upsampling_conv():
    import torch

    from experiments.gan_probes import AddCoords, _parser, generator

    g = generator(_parser().parse_args(["--gw", "8", "--coord"]), 16)
    adds = [m for m in g.modules() if isinstance(m, AddCoords)]
    assert len(adds) == 3  # 4 -> 8 -> 16 -> 32
    assert g(torch.randn(2, 16), torch.tensor([0, 5])).shape == (2, 3, 32, 32)
    h = AddCoords()(torch.zeros(1, 1, 3, 3))
    assert h[0, 1, :, 0].tolist() == [-1.0, 0.0, 1.0] and h[0, 2, 0].tolist() == [-1.0, 0.0, 1.0]
