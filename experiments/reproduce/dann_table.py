"""The DANN table: configs/dann/demo.yaml as source only and DANN (seeds 0-2), source only with
BatchNorm over the mixed source + target batch (``mixed_bn``, seed 0) and the target oracle (seed 0).

Each (row, seed) is one run ``<runs>/dann-table-<recipe>/<row>-s<seed>`` (resumable: a finished run is not
run again). ``<recipe>`` is a digest of the demo's parsed YAML (comments aside), so a changed recipe gets
fresh run folders instead of tabulating runs of the old one. The table gives val/target_acc1 and
val/source_acc1 as mean ± std over seeds, each row's train time (results.json ``meta.train_time_s``) and the
per-seed gain of DANN over the source-only run of the same seed (the demo's bar: >= 0.10).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from experiments.sweep.stats import mean_std
from experiments.sweep.sweep import is_done

STEP = "dann_table"  # the name --only matches
CONFIG = "configs/dann/demo.yaml"
SEEDS = (0, 1, 2)
# row -> (its arguments on top of the demo, its seeds)
ROWS: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "source_only": (("--model.init_args.mode", "source_only"), SEEDS),
    "source_only_mixed_bn": (("--model.init_args.mode", "source_only", "--model.init_args.mixed_bn", "true"), (0,)),
    "dann": (("--model.init_args.mode", "dann"), SEEDS),
    "target_oracle": (("--model.init_args.mode", "target_oracle"), (0,)),
}
MODES = tuple(ROWS)
LABELS = {"source_only": "Source only", "source_only_mixed_bn": "Source only, BN over source + target batch (mixed_bn)",
          "dann": "DANN", "target_oracle": "Target oracle (trained on target labels)"}


def experiment(root: Path) -> str:
    """``dann-table-<8 hex>``: the digest of ``root``'s demo config as parsed (``dann-table`` without the config)."""
    config = root / CONFIG
    if not config.is_file():
        return "dann-table"
    recipe = json.dumps(yaml.safe_load(config.read_text()), sort_keys=True, default=str)
    return f"dann-table-{hashlib.sha256(recipe.encode()).hexdigest()[:8]}"


def run_dir(runs: Path, mode: str, seed: int, name: str = "dann-table") -> Path:
    return runs / name / f"{mode}-s{seed}"


def run_all(runs: Path, root: Path, run: Callable[[list[str], Path], int]) -> int:
    """Every (mode, seed) not yet finished; returns the number that failed (none without the demo under ``root``)."""
    if not (root / CONFIG).is_file():
        return 0
    failed, name = 0, experiment(root)
    for mode, (args, seeds) in ROWS.items():
        for seed in seeds:
            d = run_dir(runs, mode, seed, name)
            if is_done(d):
                continue
            cmd = [sys.executable, "-m", "experiments", "fit", "--config", str(root / CONFIG),
                   *args, "--seed_everything", str(seed), "--experiment", name,
                   "--run_id", d.name, "--runs_dir", str(runs), "--trainer.enable_progress_bar", "false"]
            failed += run(cmd, runs / "logs" / f"{name}-{d.name}.log") != 0
    return failed


def dann_result(runs: Path, root: Path) -> dict | None:
    """{mode: {seed: {metric: value, "train_time_s": s}}} of the finished runs of ``root``'s recipe; None when there is none."""
    out: dict = {}
    for mode, (_args, seeds) in ROWS.items():
        for seed in seeds:
            d = run_dir(runs, mode, seed, experiment(root))
            if is_done(d):
                res = json.loads((d / "results.json").read_text())
                row = {k: res["metrics"].get(k) for k in ("val/target_acc1", "val/source_acc1")}
                out.setdefault(mode, {})[seed] = {**row, "train_time_s": (res.get("meta") or {}).get("train_time_s")}
    return out or None


def _cell(values: list[float]) -> str:
    m, s = mean_std(values)
    return "—" if m is None else f"{m:.3f} ± {s or 0:.3f} (n={len(values)})"


def table(result: dict) -> list[str]:
    lines = ["| Mode | val/target_acc1 | val/source_acc1 | per seed (target) | train time / run |", "|---|---|---|---|---|"]
    for mode in MODES:
        seeds = result.get(mode, {})
        tgt = [r["val/target_acc1"] for r in seeds.values()]
        src = [r["val/source_acc1"] for r in seeds.values()]
        per = ", ".join(f"s{s}: {r['val/target_acc1']:.3f}" for s, r in sorted(seeds.items()))
        times = [r["train_time_s"] for r in seeds.values() if r.get("train_time_s") is not None]
        spent = f"{min(times):.0f}-{max(times):.0f} s" if times else "—"
        lines.append(f"| {LABELS[mode]} | {_cell(tgt)} | {_cell(src)} | {per or '—'} | {spent} |")
    both = sorted(set(result.get("dann", {})) & set(result.get("source_only", {})))
    gains = [result["dann"][s]["val/target_acc1"] - result["source_only"][s]["val/target_acc1"] for s in both]
    if gains:
        lines += ["", (f"DANN − source only on the target, per seed: {', '.join(f'{g:+.3f}' for g in gains)} "
                  f"(mean {sum(gains) / len(gains):+.3f}; the demo's bar is +0.10).")]
    return lines

