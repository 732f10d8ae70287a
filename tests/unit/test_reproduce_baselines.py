"""paperlab reproduce's trivial-baseline table: cached per demo, shown beside the demo's number."""

import json
from pathlib import Path

from experiments.reproduce.baselines import baseline, baseline_path, baseline_table


def _demo(tmp_path: Path, name: str, metric: str, value: float) -> tuple[Path, Path]:
    config, run_dir = tmp_path / "configs" / name / "demo.yaml", tmp_path / "runs" / f"{name}-demo" / "reproduce"
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"meta": {"primary_metric": metric},
                                                      "metrics": {metric: value}}))
    return config, run_dir


def test_table_puts_the_baseline_on_the_demo_metric_beside_the_demo(tmp_path):
    unet = _demo(tmp_path, "unet", "val/miou", 0.9)
    wgan = (tmp_path / "configs/wgan/demo.yaml", tmp_path / "absent")
    baselines = {"unet": {"family": "segmentation", "scores": {
        "all_background": {"val/miou": 0.119, "val/dice": 0.13}, "pixel_linear": {"val/miou": 0.12}}},
        "wgan": {"family": None, "scores": {}}}
    lines = baseline_table([unet, wgan], baselines)
    assert lines[2] == "| unet | segmentation | val/miou | 0.900 | all background 0.119; pixel linear 0.120 |"
    assert lines[3] == "| wgan | — | — | — | none for this family |"
    assert baseline_table([unet], {})[2].endswith("| not computed yet |")


def test_cache_is_read_old_layouts_recomputed_and_nothing_run_when_not_asked(tmp_path):
    config, runs = tmp_path / "configs/alexnet/demo.yaml", tmp_path / "runs"
    calls = []

    def run(cmd: list[str], log: Path) -> int:
        calls.append(cmd)
        Path(cmd[cmd.index("--json") + 1]).write_text(json.dumps({"family": "classification", "scores": {}}))
        return 0

    out = baseline_path(config, runs)
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps({"chance": 0.1}))  # written by an earlier reproduce: no "scores"
    assert baseline(config, runs, run, compute=False) is None and not calls
    assert baseline(config, runs, run)["family"] == "classification" and len(calls) == 1
    assert calls[0][2:5] == ["experiments", "baseline", "--config"]
    assert baseline(config, runs, run)["family"] == "classification" and len(calls) == 1  # cached
