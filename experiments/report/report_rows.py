"""Groups runs by setting and builds the report's rows (one per setting and metric), Pareto-marked."""

from __future__ import annotations

import importlib
import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from experiments.method import method_meta
from experiments.provenance import label as hardware_label
from experiments.sweep.stats import mean_std

SHAPES = "ShapesWorld"
REPO = Path(__file__).resolve().parents[2]
# Keys that name, place or decorate a run without changing what it measures: a group is a setting.
RUN_KEYS = ("seed_everything", "experiment", "run_id", "runs_dir", "wandb_project", "ckpt_path",
            "weights_only", "trainer.default_root_dir", "trainer.logger", "trainer.enable_progress_bar",
            "trainer.enable_model_summary", "trainer.enable_checkpointing", "trainer.log_every_n_steps",
            "data.init_args.num_workers")
LATENCY_KEY = "perf/infer_latency_bs1_ms"  # PerfMonitor measures it at the end of fit
LOWER_IS_BETTER = ("loss", "fid", "kid", "err")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def setting_of(config: dict[str, Any]) -> dict[str, Any]:
    """The flattened config without the seed and the per-run bookkeeping keys."""
    return {k: v for k, v in flatten(config).items()
            if not any(k == r or k.startswith(r + ".") for r in RUN_KEYS)}



# ----------------------------------------------------------------------------- grouping

def group_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups of runs sharing experiment and setting, in first-seen order."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in runs:
        setting = setting_of(rec.get("_config") or {})
        key = (rec["experiment"], json.dumps(setting, sort_keys=True, default=str))
        groups.setdefault(key, {"experiment": rec["experiment"], "setting": setting, "runs": []})
        groups[key]["runs"].append(rec)
    return list(groups.values())


def distinguishing(groups: list[dict[str, Any]]) -> None:
    """Set ``group["diff"]``: the setting keys whose values differ within its experiment."""
    by_exp: dict[str, list[dict[str, Any]]] = {}
    for g in groups:
        by_exp.setdefault(g["experiment"], []).append(g)
    for members in by_exp.values():
        keys = sorted({k for g in members for k in g["setting"]})
        varying = [k for k in keys if len({json.dumps(g["setting"].get(k), default=str)
                                           for g in members}) > 1]
        leaves = [k.rsplit(".", 1)[-1] for k in varying]
        for g in members:
            g["diff"] = {(leaf if leaves.count(leaf) == 1 else k.replace("init_args.", "")):
                         g["setting"].get(k) for k, leaf in zip(varying, leaves)}


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better (losses, FID/KID, error rates)."""
    return any(w in metric.rsplit("/", 1)[-1] for w in LOWER_IS_BETTER)


def default_metric(runs: list[dict[str, Any]]) -> str:
    """The metric of a group without paper references: ``val/acc1``, else the first ``val/`` one."""
    names = {m for r in runs for m in r.get("metrics", {})}
    if "val/acc1" in names:
        return "val/acc1"
    val = sorted(m for m in names if m.startswith("val/"))
    return val[0] if val else min(names, default="val/acc1")


def _record_method(rec: dict[str, Any]) -> dict[str, str]:
    """``method_meta`` of a run from the module class its config names, so runs recorded before a
    name was changed read like new ones; from its results.json when that class is gone."""
    meta = rec.get("meta", {})
    model = (rec.get("_config") or {}).get("model") or {}
    module, _, name = str(model.get("class_path", "")).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        if "method" in meta:
            return {k: meta[k] for k in ("method", "primary_metric") if k in meta}
        return {"method": str(meta.get("model", "?")).removesuffix("Module")}
    return method_meta(cls, model.get("init_args") or {})


def _mean_of(runs: list[dict[str, Any]], section: str, key: str) -> float | None:
    vals = [float(r[section][key]) for r in runs
            if isinstance(r.get(section, {}).get(key), (int, float))]
    return statistics.fmean(vals) if vals else None


def _unique(values: Iterable[Any]) -> str:
    seen = list(dict.fromkeys(str(v) for v in values if v is not None))
    return ", ".join(seen) if seen else "—"


def _config_files(rec: dict[str, Any]) -> list[str]:
    cmd = [str(c) for c in rec.get("provenance", {}).get("command") or []]
    files = [cmd[i + 1] for i, c in enumerate(cmd[:-1]) if c == "--config"] + \
        [c.split("=", 1)[1] for c in cmd if c.startswith("--config=")]
    return [in_repo(f) for f in files]


def in_repo(path: str | Path) -> str:
    """A path inside this repository as ``configs/...``, so tables do not carry one machine's folders."""
    p = Path(path)
    return str(p.relative_to(REPO) if p.is_absolute() and p.is_relative_to(REPO) else p)


BOOKKEEPING = ("--config", "--experiment", "--run_id", "--runs_dir", "--seed_everything",
               "--trainer.enable_progress_bar")


def _overrides(rec: dict[str, Any]) -> list[str]:
    """The command line's ``--key value`` overrides (what a sweep or reproduce added to the files)."""
    cmd = [str(c) for c in rec.get("provenance", {}).get("command") or []]
    out, i = [], 0
    while i < len(cmd):
        tok = cmd[i]
        if tok.startswith("--") and tok not in ("--print_config",):
            key, sep, value = tok.partition("=")
            if not sep and i + 1 < len(cmd) and not cmd[i + 1].startswith("--"):
                value, i = cmd[i + 1], i + 1
            if key not in BOOKKEEPING:
                out.append(f"{key.removeprefix('--')}={value}")
        i += 1
    return out


def _git(runs: list[dict[str, Any]]) -> str:
    shas = []
    for r in runs:
        git = r.get("provenance", {}).get("git") or {}
        sha = (git.get("commit") or "unknown")[:7]
        shas.append(sha + ("+dirty" if git.get("dirty") else ""))
    return _unique(shas)


def _yaml(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def build_rows(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (group, metric) with raw numbers; ``primary`` marks the group's plotted row."""
    distinguishing(groups)
    rows = []
    for gi, g in enumerate(groups):
        runs = g["runs"]
        meta = runs[0].get("meta", {})
        shapes = str(meta.get("dataset")).startswith(SHAPES)  # "ShapesWorld", "ShapesWorld motions", ...
        method = _record_method(runs[0])
        refs = [] if shapes else [dict(p) for p in runs[0].get("paper") or []]
        primary = method.get("primary_metric")
        if not any(primary in r.get("metrics", {}) for r in runs):
            primary = default_metric(runs)
        targets = [(p["metric"], p) for p in refs] or [(primary, None)]
        files = _unique(f for r in runs for f in _config_files(r))
        diff = ", ".join(f"{k}={_yaml(v)}" for k, v in g["diff"].items())
        overrides = _unique(o for r in runs for o in _overrides(r))
        params = _mean_of(runs, "meta", "params")
        common = {
            "group": gi, "experiment": g["experiment"],
            "method": method["method"],
            "dataset": f"{meta.get('dataset')} (embedded)" if shapes else str(meta.get("dataset")),
            "shapes": shapes,
            "epochs": _unique(r.get("meta", {}).get("epochs") for r in runs),
            "effective_batch": _unique(r.get("meta", {}).get("effective_batch") for r in runs),
            "hardware": _unique(hardware_label(r["provenance"]["hardware"]) for r in runs
                                if r.get("provenance", {}).get("hardware")),
            "train_time_s": _mean_of(runs, "meta", "train_time_s"),
            "samples_per_sec": _mean_of(runs, "perf", "perf/samples_per_sec"),
            "latency_ms": _mean_of(runs, "perf", LATENCY_KEY),
            "peak_mem_mb": _mean_of(runs, "perf", "perf/peak_mem_mb"),
            "params": None if params is None else round(params),
            "flops": _mean_of(runs, "perf", "perf/flops_per_sample"),
            "config": f"{g['experiment']}: " + "; ".join(x for x in (files, overrides, diff) if x and x != "—"),
            "label": " ".join(x for x in (g["experiment"], diff) if x),
            "runs": ", ".join(r["run_id"] for r in runs),
            "git": _git(runs),
            "seeds": len({(r.get("_config") or {}).get("seed_everything") for r in runs}),
        }
        primary_set = False
        for metric, ref in targets:
            values = [float(r["metrics"][metric]) for r in runs if metric in r.get("metrics", {})]
            mean, std = mean_std(values)
            row = {**common, "metric": metric, "mean": mean, "std": std, "n": len(values),
                   "paper_value": ref["value"] if ref else None, "paper_ref": ref,
                   "delta": mean - ref["value"] if ref and mean is not None else None,
                   "primary": False, "pareto": False}
            if mean is not None and not primary_set:
                row["primary"] = primary_set = True
            rows.append(row)
    mark_pareto(rows)
    return rows


def pareto_front(points: list[tuple[float, float]], higher_is_better: bool = True) -> list[int]:
    """Indices of points (throughput, metric) that no other point beats on both axes."""
    sign = 1.0 if higher_is_better else -1.0
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any(xo >= x and sign * yo >= sign * y and (xo > x or sign * yo > sign * y)
                        for j, (xo, yo) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def comparable(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Primary rows with a throughput, by (metric, dataset, hardware): speed only compares there."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["primary"] and r["samples_per_sec"]:
            out.setdefault((r["metric"], r["dataset"], r["hardware"]), []).append(r)
    return out


def mark_pareto(rows: list[dict[str, Any]]) -> None:
    """Flag the rows on the (throughput, metric) Pareto front of their comparable set."""
    for (metric, _, _), pts in comparable(rows).items():
        points = [(r["samples_per_sec"], r["mean"]) for r in pts]
        for i in pareto_front(points, not lower_is_better(metric)):
            pts[i]["pareto"] = True
