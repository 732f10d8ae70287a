"""Curves and time-to-level tables of a finished sweep, from its trials' results.json ``history``.

``paperlab sweep --report`` tabulates end-of-run figures; some claims are about the way there:
ResNet's Figure 6 (training loss over the steps of plain and residual nets) and BatchNorm's
steps to a fixed accuracy. This reads the same trials (``runs/<sweep>/<trial id>/results.json``)
and, per setting (the parameters but the seed), writes

* ``curves_<metric>.png``: the metric against SGD steps, one colour per setting, the seed mean
  bold, every seed thin;
* with ``--level METRIC=VALUE``: a Markdown table of the first step at which each trial's
  ``METRIC`` reached ``VALUE`` (``>=`` for accuracies, ``<=`` with ``--below``), mean ± std over
  the seeds that reached it, and how many did.

python -m experiments.report.sweep_curves configs/sweeps/resnet_plain_vs_residual.yaml \
    --metric train/loss_mean --out docs/figures/resnet-plain-vs-residual [--runs-dir runs] [--set K=V]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from experiments.sweep.stats import mean_std
from experiments.sweep.sweep import with_overrides
from experiments.sweep.sweep_spec import SEED, Sweep, cli_value, enumerate_trials, load_sweep


def settings(sweep: Sweep, runs_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Setting label -> the finished trials' results.json records, in the sweep's order."""
    varied = [k for k, s in sweep.parameters.items() if k != SEED and len(s.get("values", [None])) > 1]
    out: dict[str, list[dict[str, Any]]] = {}
    for t in enumerate_trials(sweep):
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={cli_value(t.params[k])}" for k in varied) or "(all)"
        path = runs_dir / sweep.name / t.id / "results.json"
        runs = out.setdefault(label, [])
        if path.is_file() and (rec := json.loads(path.read_text())).get("state") == "finished":
            runs.append(rec)
    return out


def points(record: dict[str, Any], metric: str) -> list[tuple[int, float]]:
    """(global step, value) at each validation of one run."""
    return [(int(h["global_step"]), float(h[metric])) for h in record.get("history", []) if metric in h]


def first_step(pts: list[tuple[int, float]], level: float, below: bool) -> int | None:
    """The first step whose value reached ``level`` (``<=`` if ``below``), None if none did."""
    return next((s for s, v in pts if (v <= level if below else v >= level)), None)


def level_table(groups: dict[str, list[dict[str, Any]]], metric: str, level: float, below: bool) -> str:
    sign = "≤" if below else "≥"
    header = (f"| setting | first step with {metric} {sign} {level:g}, mean ± std | reached (seeds) | "
              f"last {metric}, mean ± std |")
    lines = [header, "|---|---|---|---|"]
    for label, runs in groups.items():
        steps = [s for r in runs if (s := first_step(points(r, metric), level, below)) is not None]
        m, sd = mean_std([float(s) for s in steps])
        last = [p[-1][1] for r in runs if (p := points(r, metric))]
        lm, lsd = mean_std(last)
        fmt = lambda a, b, f: "—" if a is None else f"{a:{f}}" + ("" if b is None else f" ± {b:{f}}")
        lines.append(f"| {label} | {fmt(m, sd, '.0f')} | {len(steps)} of {len(runs)} | {fmt(lm, lsd, '.4f')} |")
    return "\n".join(lines) + "\n"


def plot(groups: dict[str, list[dict[str, Any]]], metric: str, out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, runs) in enumerate(groups.items()):
        colour = plt.cm.tab10(i % 10)
        curves = [p for r in runs if (p := points(r, metric))]
        for p in curves:
            ax.plot(*zip(*p), color=colour, lw=0.6, alpha=0.5)
        n = min((len(p) for p in curves), default=0)
        if n:  # seeds validate at the same steps: average them point by point
            steps = [p[0] for p in curves[0][:n]]
            ax.plot(steps, np.mean([[v for _, v in p[:n]] for p in curves], 0), color=colour, lw=2,
                    label=f"{label} (n={len(curves)})")
    ax.set_xlabel("SGD step")
    ax.set_ylabel(metric)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"curves_{metric.replace('/', '_')}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m experiments.report.sweep_curves", description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path, help="sweep YAML")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"))
    ap.add_argument("--metric", action="append", default=[], help="history metric to plot (repeatable)")
    ap.add_argument("--level", action="append", default=[], metavar="METRIC=VALUE",
                    help="table of the first step reaching VALUE (repeatable)")
    ap.add_argument("--below", action="store_true", help="--level means <= VALUE (losses)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the figures")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="the trials run with these `paperlab sweep --set` overrides (they change the trial ids)")
    args = ap.parse_args(argv)
    sweep = with_overrides(load_sweep(args.file), args.set)
    groups = settings(sweep, args.runs_dir)
    for metric in args.metric:
        print(f"figure: {plot(groups, metric, args.out, f'{sweep.name}: {metric} (thin: seeds, bold: mean)')}")
    for spec in args.level:
        metric, _, value = spec.partition("=")
        print(level_table(groups, metric, float(value), args.below))


if __name__ == "__main__":
    main()
