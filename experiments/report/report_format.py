"""Renders the report's rows as the Markdown table (with notes) and the CSV file."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from experiments.report.report_rows import LATENCY_KEY, comparable

NOT_COMPARED = "n/a (ShapesWorld)"
COLUMNS = ("Method", "Dataset", "Metric", "Paper", "Reproduced mean ± std (n seeds)", "Δ", "Epochs",
           "Eff. batch", "Hardware", "Train time", "Train img/s", "Infer latency bs1", "Peak mem",
           "Params", "FLOPs", "Config", "Runs", "Git SHA")


def _num(v: float | None, digits: int = 4) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _si(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {prefix}{unit}".strip()
    return f"{v:.3g} {unit}".strip()


def _duration(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def cells(row: dict[str, Any], footnote: int | None = None) -> list[str]:
    """The Markdown cells of a row, in ``COLUMNS`` order."""
    n, seeds = row["n"], row["seeds"]
    unit = "seed" if n == seeds else "run"
    repro = "not logged" if row["mean"] is None else (
        f"{_num(row['mean'])} ({n} {unit})" if row["std"] is None
        else f"{_num(row['mean'])} ± {_num(row['std'])} ({n} {unit}s)")
    if row["shapes"]:
        paper = delta = NOT_COMPARED
    elif row["paper_ref"]:
        paper = f"{_num(row['paper_value'])} ({row['paper_ref'].get('dataset', '')}) [{footnote}]"
        delta = "—" if row["delta"] is None else f"{row['delta']:+.4f}"
    else:
        paper = delta = "—"
    return [row["method"], row["dataset"], row["metric"], paper, repro, delta, row["epochs"],
            row["effective_batch"], row["hardware"], _duration(row["train_time_s"]),
            _num(row["samples_per_sec"], 1),
            "—" if row["latency_ms"] is None else f"{row['latency_ms']:.2f} ms",
            "—" if row["peak_mem_mb"] is None else f"{row['peak_mem_mb']:.0f} MB",
            _si(row["params"]), _si(row["flops"]), row["config"], row["runs"], row["git"]]


NOTES = ("Δ = reproduced mean − paper value, in the metric's units. Std is the sample std over the "
         "group's runs (same config, different `seed_everything`). Train img/s is the training "
         "throughput PerfMonitor measured (warm-up steps excluded); FLOPs are forward + backward per "
         "training sample; infer latency shows `{latency}` when a run recorded it. ShapesWorld is the "
         "embedded synthetic data: its rows are never compared with a paper's number.")


def markdown(rows: list[dict[str, Any]], sources: list[str], skipped: list[str], plots: list[str],
             link_prefix: str = "") -> str:
    """The whole ``report.md``: table, notes, Pareto fronts, paper references, plots, skipped files.

    ``link_prefix`` is put before each plot's file name in its image link, for a page that lives
    elsewhere than the plots (``paperlab reproduce`` puts them in ``figures/`` beside its page).
    """
    refs: list[dict[str, Any]] = []
    lines = ["# paperlab report", "",
             (f"Generated {datetime.now(timezone.utc).isoformat(timespec='seconds')} from "
              f"{', '.join(sources)}."), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        note = None
        if row["paper_ref"] and not row["shapes"]:
            refs.append(row["paper_ref"])
            note = len(refs)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row, note)) + " |")
    lines += ["", NOTES.format(latency=LATENCY_KEY), ""]
    for (metric, dataset, hardware), pts in comparable(rows).items():
        front = [f"{r['method']} ({r['label']})" for r in pts if r["pareto"]]
        lines.append(f"Pareto front of {metric} vs train img/s on {dataset}, {hardware}: "
                     + "; ".join(front) + ".")
    if refs:
        lines += ["", "Paper references:", ""]
        lines += [f"{i}. {r.get('source', '')}, {r.get('dataset', '')}, {r.get('protocol', '')} "
                  f"{r.get('url', '')}".rstrip() for i, r in enumerate(refs, 1)]
    if plots:
        lines += [""] + [f"![{p}]({link_prefix}{p})" for p in plots]
    else:
        lines += ["", ("No speed/accuracy plot: no run recorded perf/samples_per_sec (a fit needs "
                       "more than PerfMonitor's 3 warm-up steps).")]
    if skipped:
        lines += ["", f"Skipped {len(skipped)} results file(s):", ""] + [f"- {s}" for s in skipped]
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("experiment", "method", "dataset", "metric", "paper_value", "paper_dataset",
              "paper_source", "mean", "std", "n", "delta", "epochs", "effective_batch", "hardware",
              "train_time_s", "samples_per_sec", "latency_ms", "peak_mem_mb", "params", "flops",
              "config", "runs", "git", "pareto")


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            ref = r["paper_ref"] if not r["shapes"] else None
            w.writerow({**r, "paper_value": ref["value"] if ref else NOT_COMPARED if r["shapes"] else "",
                        "paper_dataset": ref.get("dataset", "") if ref else "",
                        "paper_source": ref.get("source", "") if ref else "",
                        "delta": r["delta"] if ref else ""})
