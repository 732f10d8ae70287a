"""The reproduce step that runs ``paperlab explain --method all`` on the AlexNet demo's checkpoint
and the table it puts on docs/RESULTS.md: each measured figure beside its trivial baseline.

Cached like the baselines: ``<demo run>/explain/all.json`` is not computed again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.report.report_rows import in_repo

Runner = Callable[[list[str], Path], int]  # (command, log file) -> exit code


def explain_result(config: Path, run_dir: Path, runs: Path, run: Runner | None) -> dict[str, Any] | None:
    """The demo run's ``explain/all.json``, computed first when missing and ``run`` is given."""
    out = run_dir / "explain" / "all.json"
    if not out.exists() and run is not None and (run_dir / "checkpoints" / "last.ckpt").exists():
        run([sys.executable, "-m", "experiments", "explain", "--config", in_repo(config), "--ckpt_path",
             str(run_dir / "checkpoints" / "last.ckpt"), "--method", "all"],
            runs / "logs" / f"explain-{config.parent.name}.log")
    return json.loads(out.read_text()) if out.exists() else None


def _f(v: Any) -> str:
    """A figure: 3 decimals; a dict of them by key; a missing one with its reason."""
    if isinstance(v, dict):
        if v.get("value", 0) is None:
            return f"— ({v.get('reason')})"
        return ", ".join(f"{k}: {_f(x)}" for k, x in v.items())
    return f"{v:.3f}" if isinstance(v, float) else ("—" if v is None else str(v))


def explain_table(r: dict[str, Any]) -> list[str]:
    """Markdown lines: localisation, faithfulness and sanity per method, then the other figures."""
    share, rand = r.get("mask_share"), r.get("deletion_auc_random")
    lines = [(f"{r.get('samples')} ShapesWorld validation images; Grad-CAM on `{r.get('layer')}`. Trivial "
             "baselines: the mask's share of the image for the pointing game and mask mass (a map blind to "
             "the object), random order for the deletion AUC (lower is more faithful), chance for accuracy."), "",
             "| Method | Pointing game | Mask mass | Deletion AUC | Sanity rank corr. (trained vs random) |",
             "|---|---|---|---|---|"]
    for m, pg in r.get("pointing_game", {}).items():
        if pg is None:
            lines.append(f"| {m} | {r.get('skipped', {}).get(m, 'skipped')} | | | |")
            continue
        flag = " (barely changes)" if r.get("sanity_barely_changes", {}).get(m) else ""
        lines.append(f"| {m} | {_f(pg)} | {_f(r.get('mask_mass', {}).get(m))} | "
                     f"{_f(r.get('deletion_auc', {}).get(m))} | {_f(r.get('sanity_rank_correlation', {}).get(m))}{flag} |")
    lines.append(f"| *baseline* | {_f(share)} (mask share) | {_f(share)} | {_f(rand)} (random order) | |")
    chance = _f(r.get("chance_acc"))
    eps = lambda k: ", ".join(f"{e}/255: {_f(v)}" for e, v in r.get(k, {}).items())
    transfer = r.get("classviz_transfer_confidence", {})
    lines += ["", "| Figure | Value | Trivial baseline |", "|---|---|---|",
              f"| clean accuracy | {_f(r.get('clean_acc'))} | chance {chance} |",
              f"| FGSM accuracy | {eps('fgsm_acc')} | chance {chance} |",
              f"| PGD L∞ accuracy (10 steps) | {eps('pgd_linf_acc')} | chance {chance} |",
              (f"| fooling images: lowest confidence over classes | {_f(r.get('fooling_confidence'))} | "
              f"1/classes {chance} |"),
              f"| class models: confidence under own model | {_f(r.get('classviz_self_confidence'))} | {chance} |",
              f"| class models: under an independent seed | {_f(transfer)} | {chance} |",
              (f"| true-class probability drop: object covered | {_f(r.get('occlusion_drop_object'))} | "
              f"background of equal area covered: {_f(r.get('occlusion_drop_background'))} |"),
              (f"| t-SNE kNN accuracy (penultimate features) | {_f(r.get('tsne_knn_acc'))} | random-init net "
              f"{_f(r.get('tsne_knn_acc_random_init'))} |")]
    return lines
