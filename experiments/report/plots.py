"""The report's matplotlib figures: metric vs training throughput (Pareto) and learning curves."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from experiments.report.report_rows import comparable, lower_is_better


def _slug(*parts: str) -> str:
    text = "_".join(parts).lower().replace("@", "at")
    return re.sub(r"[^a-z0-9.]+", "_", text.replace(" (embedded)", "")).strip("_")


def plot_pareto(rows: list[dict[str, Any]], out: Path) -> list[str]:
    """One PNG per metric: metric vs training throughput, the Pareto front joined and starred."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for (metric, dataset, hardware), pts in comparable(rows).items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in pts:
            ax.errorbar(r["samples_per_sec"], r["mean"], yerr=r["std"] or 0, fmt="o",
                        color="tab:red" if r["pareto"] else "tab:blue", capsize=3)
            ax.annotate(r["label"][:40],
                        (r["samples_per_sec"], r["mean"]), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
        front = sorted((r["samples_per_sec"], r["mean"]) for r in pts if r["pareto"])
        ax.plot(*zip(*front), "r--", lw=1, label="Pareto front")
        ax.margins(x=0.3, y=0.15)  # room for the point labels
        xs = [r["samples_per_sec"] for r in pts]
        if max(xs) > 10 * min(xs):
            ax.set_xscale("log")
        ax.set_xlabel("training throughput (samples/s)")
        ax.set_ylabel(metric)
        better = "lower" if lower_is_better(metric) else "higher"
        ax.set_title(f"{dataset}, {hardware}: {metric} ({better} is better)", fontsize=9)
        ax.legend()
        ax.grid(alpha=0.3)
        names.append(_save(fig, out, f"pareto_{_slug(metric, dataset, hardware)}.png"))
    return names


def _save(fig: Any, out: Path, name: str) -> str:
    """Write one figure as PNG and free it; returns the file name."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(out / name, dpi=120)
    plt.close(fig)
    return name


def _history(run: dict[str, Any], metric: str) -> list[tuple[float, float]]:
    """(epoch, value) points: results.json's ``history`` locally, the W&B history otherwise."""
    if run.get("history"):
        return [(h["epoch"], h[metric]) for h in run["history"] if metric in h]
    if "_run" in run:
        hist = run["_run"].history(keys=[metric, "epoch"], pandas=False)
        return [(h.get("epoch", h.get("_step")), h[metric]) for h in hist if metric in h]
    return []


def plot_curves(groups: list[dict[str, Any]], rows: list[dict[str, Any]], out: Path) -> list[str]:
    """Validation curves per metric: one colour per setting (group), one line per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    by_metric: dict[str, list[tuple[str, list[tuple[float, float]]]]] = {}
    for r in rows:
        if r["primary"]:
            for run in groups[r["group"]]["runs"]:
                if pts := _history(run, r["metric"]):
                    by_metric.setdefault(r["metric"], []).append((r["label"], pts))
    for metric, items in by_metric.items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        colours: dict[str, Any] = {}
        for label, pts in items:
            first = label not in colours
            colours.setdefault(label, plt.cm.tab10(len(colours) % 10))
            ax.plot(*zip(*pts), color=colours[label], lw=1, marker=".", label=label[:50] if first else None)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend(fontsize=6)
        names.append(_save(fig, out, f"curves_{_slug(metric)}.png"))
    return names
