"""Reads paperlab runs from the W&B API into the shape of a local results.json record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from experiments.report.report_rows import SHAPES


def record_from_wandb(run: Any) -> dict[str, Any] | None:
    """A W&B run in results.json's shape, or ``None`` if it is not a paperlab run.

    RunRecorder sends ``resolved_config``, ``provenance`` and ``paper`` to the run's config;
    metrics and ``perf/*`` are in its summary. ``meta`` is rebuilt from those (W&B has no
    parameter count unless a ``meta`` entry was logged to the config).
    """
    cfg = dict(run.config)
    resolved = cfg.get("resolved_config")
    if not isinstance(resolved, dict):
        return None
    summary = getattr(run.summary, "_json_dict", None)  # the API's HTTPSummary keeps its dict here
    summary = dict(run.summary if summary is None else summary)
    num = {k: float(v) for k, v in summary.items()
           if isinstance(v, (int, float)) and not isinstance(v, bool)}
    data = (resolved.get("data") or {}).get("init_args") or {}
    model = str((resolved.get("model") or {}).get("class_path", "?")).rsplit(".", 1)[-1]
    source = data.get("source")
    dataset = {"shapes": SHAPES, "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}.get(
        source, Path(str(data.get("root") or "")).name or source)
    meta = {"model": model, "dataset": dataset, "epochs": summary.get("epoch"),
            "global_step": summary.get("trainer/global_step"), "train_time_s": summary.get("_runtime"),
            "effective_batch": data.get("batch_size")}
    meta.update(cfg.get("meta") or {})
    return {
        "experiment": run.group or str(run.name).split("/")[0], "run_id": run.id,
        "metrics": {k: v for k, v in num.items() if k.startswith(("val/", "test/", "train/"))},
        "perf": {k: v for k, v in num.items() if k.startswith("perf/")},
        "meta": meta, "provenance": cfg.get("provenance") or {}, "paper": cfg.get("paper") or [],
        "_config": resolved, "_source": getattr(run, "url", run.id), "_run": run,
    }


def load_wandb(project: str, api: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    """paperlab runs of a W&B project (``entity/project`` or ``project``)."""
    if api is None:
        import wandb

        api = wandb.Api()
    runs, skipped = [], []
    for run in api.runs(project):
        rec = record_from_wandb(run)
        if rec is None:
            skipped.append(f"W&B run {run.id}: no resolved_config (not a paperlab run)")
        else:
            runs.append(rec)
    return runs, skipped
