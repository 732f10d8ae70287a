"""The reproduce step of ``paperlab explain``: computed once into the demo run, then tabled."""

from __future__ import annotations

import json
from pathlib import Path

from experiments.reproduce.explain_step import explain_result, explain_table

RESULT = {
    "samples": 10, "layer": "features.12", "mask_share": 0.15, "deletion_auc_random": 0.55, "chance_acc": 0.125,
    "clean_acc": 0.9, "pointing_game": {"gradcam": 0.3, "cam": None}, "mask_mass": {"gradcam": 0.2},
    "deletion_auc": {"gradcam": 0.3}, "sanity_rank_correlation": {"gradcam": 0.1},
    "sanity_barely_changes": {"gradcam": False}, "skipped": {"cam": "not applicable: MLP head"},
    "fgsm_acc": {"8": 0.1}, "pgd_linf_acc": {"8": 0.0}, "fooling_confidence": 0.99,
    "classviz_self_confidence": {"plain": 1.0}, "classviz_transfer_confidence": {"value": None, "reason": "none"},
    "occlusion_drop_object": 0.6, "occlusion_drop_background": 0.01, "tsne_knn_acc": 0.9,
    "tsne_knn_acc_random_init": 0.2,
}


def test_explain_result_runs_once_and_then_reads_the_cache(tmp_path: Path):
    run_dir = tmp_path / "alexnet-demo" / "reproduce"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"x")
    calls = []

    def runner(cmd: list[str], log: Path) -> int:
        calls.append(cmd)
        (run_dir / "explain").mkdir()
        (run_dir / "explain" / "all.json").write_text(json.dumps(RESULT))
        return 0

    config = Path("configs/alexnet/demo.yaml")
    assert explain_result(config, run_dir, tmp_path, runner) == RESULT
    assert explain_result(config, run_dir, tmp_path, runner) == RESULT
    assert len(calls) == 1 and "explain" in calls[0] and "all" in calls[0]
    assert explain_result(config, tmp_path / "missing", tmp_path, None) is None


def test_explain_table_puts_each_figure_beside_its_baseline():
    text = "\n".join(explain_table(RESULT))
    assert "| gradcam | 0.300 | 0.200 | 0.300 | 0.100 |" in text
    assert "| cam | not applicable: MLP head |" in text
    assert "0.150 (mask share)" in text and "0.550 (random order)" in text
    assert "8/255: 0.000" in text and "chance 0.125" in text
    assert "— (none)" in text and "plain: 1.000" in text  # a missing transfer figure keeps its reason


def test_wandb_summary_is_the_jsons_numbers_flattened():
    from experiments.explain.tracking import flat

    got = flat(RESULT)
    assert got["explain/pgd_linf_acc/8"] == 0.0 and got["explain/pointing_game/gradcam"] == 0.3
    assert "explain/pointing_game/cam" not in got and "explain/sanity_barely_changes/gradcam" not in got
    assert all(isinstance(v, float) for v in got.values())
