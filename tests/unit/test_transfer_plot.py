"""experiments/transfer_plot.py: trials grouped by strategy (or copied layers) and seeds averaged."""

import json

import pytest
import yaml

from experiments.transfer_plot import collect, copied_layers, main, strategy

pytestmark = pytest.mark.unit


def _trial(folder, name, model, n, acc):
    d = folder / name
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"state": "finished", "metrics": {"val/acc1": acc}}))
    (d / "config.yaml").write_text(yaml.safe_dump({"model": {"init_args": model}, "data": {"init_args": {"train_size": n}}}))


def test_strategies_layers_and_plot(tmp_path, capsys):
    src = "runs/reproduce/alexnet-demo/reproduce"
    assert strategy({"init_from": src, "freeze": ["features", "classifier.1", "classifier.4"]}) == "linear probe"
    assert strategy({"init_from": src, "freeze": ["features"]}) == "fine-tune last block"
    assert strategy({"init_from": None, "freeze": []}) == "scratch"
    assert strategy({"init_from": None, "freeze": ["features"]}) == "fine-tune last block (random features)"
    assert copied_layers({"reinit": ["features.4", "features.8", "features.10", "features.12", "classifier"]}) == 1
    assert copied_layers({"reinit": ["classifier.6"]}) == 7
    _trial(tmp_path, "a", {"init_from": src, "freeze": []}, 50, 0.5)
    _trial(tmp_path, "b", {"init_from": src, "freeze": []}, 50, 0.7)
    _trial(tmp_path, "c", {"init_from": None, "freeze": []}, 5000, 0.9)
    lines = collect(tmp_path, "labels", "val/acc1")
    assert lines["fine-tune all"][50] == [0.5, 0.7] and lines["scratch"][5000] == [0.9]
    main([str(tmp_path), "--out", str(tmp_path / "p.png")])
    assert (tmp_path / "p.png").stat().st_size > 1000
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| N labels | fine-tune all | scratch |" and table[1] == "|---|---|---|"  # a markdown table
    assert table[2] == "| 50 | 0.600 ± 0.141 (2) | – |"


def test_reproduce_puts_the_layer_curve_on_the_page(tmp_path):
    from pathlib import Path

    from experiments.reproduce.reproduce import transfer_lines

    runs, figures = tmp_path / "runs", tmp_path / "docs/figures"
    sweep = Path("configs/sweeps/transfer_layers.yaml")
    assert transfer_lines(sweep, runs, figures) == []  # before any trial: nothing, no error
    folder = runs / "sweeps/transfer-layers"
    _trial(folder, "a", {"init_from": "x", "reinit": ["classifier.6"], "freeze": ["loaded"]}, 1000, 0.8)
    _trial(folder, "b", {"init_from": "x", "reinit": ["classifier.6"], "freeze": []}, 1000, 0.9)
    lines = transfer_lines(sweep, runs, figures)
    assert "| 7 | 0.800 ± 0.000 (1) | 0.900 ± 0.000 (1) |" in lines
    assert "![transfer_layers.png](figures/transfer-layers/transfer_layers.png)" in lines
    assert (figures / "transfer-layers/transfer_layers.png").stat().st_size > 1000
    assert transfer_lines(Path("configs/sweeps/alexnet_lrn.yaml"), runs, figures) == []  # not a transfer sweep
