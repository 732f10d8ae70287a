"""The DANN table: configs/dann/demo.yaml as source only and DANN (seeds 0-2), source only with
BatchNorm over the mixed source + target batch (``mixed_bn``, seed 0) and the target oracle (seed 0).

Each (row, seed) is one run ``<runs>/dann-table/<row>-s<seed>`` (resumable: a finished run is not run
again). A run trained with another recipe (its ``config.yaml`` against the demo's, ``experiments.stale_runs``) is
neither tabulated nor reused: ``run_all`` moves it aside and trains afresh, as reproduce does for demos and sweeps. The table gives val/target_acc1 and
val/source_acc1 as mean ± std over seeds, each row's train time (results.json ``meta.train_time_s``) and the
per-seed gain of DANN over the source-only run of the same seed (the demo's bar: >= 0.10).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from experiments.stale_runs import set_aside_if_stale, stale_reasons
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


def run_dir(runs: Path, mode: str, seed: int) -> Path:
    return runs / "dann-table" / f"{mode}-s{seed}"


def fit_args(runs: Path, root: Path, mode: str, seed: int) -> list[str]:
    """The ``fit`` arguments of one (row, seed): the demo, the row's switches, the seed and its run folder."""
    return ["--config", str(root / CONFIG), *ROWS[mode][0], "--seed_everything", str(seed), "--experiment", "dann-table",
            "--run_id", run_dir(runs, mode, seed).name, "--runs_dir", str(runs), "--trainer.enable_progress_bar", "false"]


def run_all(runs: Path, root: Path, run: Callable[[list[str], Path], int]) -> int:
    """Every (mode, seed) not yet finished with the current recipe; returns the number that failed (none without the
    demo under ``root``)."""
    if not (root / CONFIG).is_file():
        return 0
    failed = 0
    for mode, (_args, seeds) in ROWS.items():
        for seed in seeds:
            d, args = run_dir(runs, mode, seed), fit_args(runs, root, mode, seed)
            set_aside_if_stale(d, args)
            if is_done(d):
                continue
            failed += run([sys.executable, "-m", "experiments", "fit", *args], runs / "logs" / f"dann-table-{d.name}.log") != 0
    return failed


def dann_result(runs: Path, root: Path) -> dict | None:
    """{mode: {seed: {metric: value, "train_time_s": s}}} of the finished runs of ``root``'s recipe; None when there is none."""
    out: dict = {}
    for mode, (_args, seeds) in ROWS.items():
        for seed in seeds:
            d = run_dir(runs, mode, seed)
            if is_done(d) and not stale_reasons(d, fit_args(runs, root, mode, seed)):
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

