"""The trivial baseline of each demo's data, computed once per reproduce and put beside the demo.

``paperlab baseline`` (experiments.baselines) computes them in a child process, as the demos
run; its JSON is cached in the reproduce run folder (``baselines/<method>.json``), so a resumed
reproduce does not compute one again. A family without a trivial baseline (generation,
captioning) is cached too, as ``"family": null``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from experiments.report.report_rows import in_repo

Runner = Callable[[list[str], Path], int]  # (command, log file) -> exit code


def baseline_path(config: Path, runs: Path) -> Path:
    """Where the baseline of a demo config is cached."""
    return runs / "baselines" / f"{config.parent.name}.json"


def baseline(config: Path, runs: Path, run: Runner | None, compute: bool = True) -> dict[str, Any] | None:
    """The cached ``paperlab baseline --json`` of a demo config, computed first when ``compute``.

    A cache in an older layout (without ``scores``) is computed again; a failed computation gives
    None (its log is ``logs/baseline-<method>.log``).
    """
    out = baseline_path(config, runs)
    cached = json.loads(out.read_text()) if out.exists() else None
    if cached is not None and "scores" in cached:
        return cached
    if not compute or run is None:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    rc = run([sys.executable, "-m", "experiments", "baseline", "--config", in_repo(config), "--json", str(out)],
             runs / "logs" / f"baseline-{config.parent.name}.log")
    return json.loads(out.read_text()) if rc == 0 and out.exists() else None


def _label(name: str) -> str:
    return name.replace("_", " ")


def demo_value(run_dir: Path) -> tuple[str | None, float | None]:
    """The demo run's headline metric and its value, from its results.json."""
    record = run_dir / "results.json"
    if not record.exists():
        return None, None
    data = json.loads(record.read_text())
    metric = data.get("meta", {}).get("primary_metric")
    value = data.get("metrics", {}).get(metric) if metric else None
    return metric, value if isinstance(value, (int, float)) else None


def baseline_cell(scores: dict[str, dict[str, float]], metric: str | None) -> str:
    """Each trivial baseline's score on ``metric``, or all its metrics when it lacks that one."""
    parts = []
    for name, metrics in scores.items():
        if metric in metrics:
            parts.append(f"{_label(name)} {metrics[metric]:.3f}")
        else:
            parts.append(f"{_label(name)} (" + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()) + ")")
    return "; ".join(parts)


def baseline_table(demos: list[tuple[Path, Path]], baselines: dict[str, dict[str, Any]]) -> list[str]:
    """Markdown lines: each demo's headline number beside its data's trivial baselines.

    Args:
        demos: (config, run folder) of each demo on the page.
        baselines: cached ``paperlab baseline`` JSON by method name (the config's folder).
    """
    lines = ["| Demo | Family | Metric | Demo run | Trivial baseline (same data, same metric code) |",
             "|---|---|---|---|---|"]
    for config, run_dir in demos:
        b = baselines.get(config.parent.name)
        metric, value = demo_value(run_dir)
        if b is None:
            cell, family = "not computed yet", "?"
        elif not b.get("scores"):
            cell, family = "none for this family", b.get("family") or "—"
        else:
            cell, family = baseline_cell(b["scores"], metric), b["family"]
        shown = "—" if value is None else f"{value:.3f}"
        lines.append(f"| {config.parent.name} | {family} | {metric or '—'} | {shown} | {cell} |")
    return lines
