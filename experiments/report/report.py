"""``paperlab report RUNS_DIR... [--out DIR] [--wandb-project P]``: speed/accuracy tables and plots.

Reads every ``results.json`` under the given folders (no network) or, with ``--wandb-project``,
the same fields from the W&B API, and groups runs by (experiment, resolved config without the
seed): a group is one setting, its runs are seeds. Per group and metric one row::

    Method | Dataset | Metric | Paper | Reproduced mean ± std (n seeds) | Δ | Epochs | Eff. batch |
    Hardware | Train time | Train img/s | Infer latency bs1 | Peak mem | Params | FLOPs | Config |
    Runs | Git SHA

The metric rows are the config's ``paper:`` references (one row each); without references it
is ``val/acc1`` (else the first ``val/`` metric). ShapesWorld runs are labelled "ShapesWorld
(embedded)" and never compared with a paper's number, even when their config carries one.

Outputs in ``--out`` (default ``<first RUNS_DIR>/report``): ``report.md``, ``report.csv`` and
``pareto_<metric>_<dataset>_<hardware>.png`` (metric vs training throughput, Pareto front
marked; speed is only compared on one dataset and hardware) and ``curves_<metric>.png``
(validation curves, one colour per setting, from results.json's ``history`` or W&B's). All
files are written to a temporary folder and renamed into place only when everything succeeded.

Bad input: a folder without any results.json, or no usable run at all, is an error (exit 2,
nothing written). A results.json of another version (or unreadable) is *skipped*, named on
stderr and counted in the report's notes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from experiments.callbacks import RunRecorder
from experiments.report.plots import plot_curves, plot_pareto
from experiments.report.report_format import (
    markdown,
    write_csv,
)
from experiments.report.report_rows import (
    build_rows,
    group_runs,
)
from experiments.report.wandb_runs import load_wandb


class ReportError(ValueError):
    """Input the report cannot be built from; ``main`` prints it and exits 2."""


# ----------------------------------------------------------------------------- loading

def load_local(dirs: Iterable[Path]) -> tuple[list[dict[str, Any]], list[str]]:
    """Runs under ``dirs`` (each must hold at least one results.json) and the skipped files."""
    runs, skipped = [], []
    for d in dirs:
        if not Path(d).is_dir():
            raise ReportError(f"{d}: not a folder")
        files = sorted(Path(d).rglob("results.json"))
        if not files:
            raise ReportError(f"{d}: no runs (expected {d}/<experiment>/<run-id>/results.json)")
        for f in files:
            try:
                rec = RunRecorder.load(f)  # raises on another results version
            except ValueError as e:  # JSONDecodeError is a ValueError too
                skipped.append(str(e) if str(f) in str(e) else f"{f}: {e}")
                continue
            cfg_file = f.parent / "config.yaml"
            rec["_config"] = yaml.safe_load(cfg_file.read_text()) if cfg_file.exists() else {}
            rec["_source"] = str(f)
            runs.append(rec)
    return runs, skipped


# ----------------------------------------------------------------------------- entry point

def write_report(runs: list[dict[str, Any]], skipped: list[str], sources: list[str],
                 out: Path, link_prefix: str = "") -> list[Path]:
    """Build every output in a temporary folder, then move them into ``out`` together.

    ``link_prefix``: see ``report_format.markdown``."""
    groups = group_runs(runs)
    rows = build_rows(groups)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    try:
        plots = plot_pareto(rows, tmp)
        if any("_run" in r or r.get("history") for r in runs):
            try:
                plots += plot_curves(groups, rows, tmp)
            except Exception as e:  # noqa: BLE001 - curves are a bonus; keep the table
                print(f"paperlab report: learning curves skipped ({type(e).__name__}: {e})",
                      file=sys.stderr)
        (tmp / "report.md").write_text(markdown(rows, sources, skipped, plots, link_prefix))
        write_csv(rows, tmp / "report.csv")
        written = []
        for name in ["report.md", "report.csv", *plots]:
            os.replace(tmp / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """``paperlab report``: see the module docstring."""
    ap = argparse.ArgumentParser(prog="paperlab report", description=__doc__.split("\n\n")[0])
    ap.add_argument("runs_dirs", nargs="*", type=Path, metavar="RUNS_DIR",
                    help="folders searched recursively for results.json")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: <first RUNS_DIR>/report)")
    ap.add_argument("--wandb-project", default=None,
                    help="read runs from this W&B project (entity/project)")
    args = ap.parse_args(argv)
    if not args.runs_dirs and not args.wandb_project:
        ap.error("give RUNS_DIR folders and/or --wandb-project")
    try:
        runs, skipped = load_local(args.runs_dirs)
        if args.wandb_project:
            remote, more = load_wandb(args.wandb_project)
            local_ids = {(r["experiment"], r["run_id"]) for r in runs}
            runs += [r for r in remote if (r["experiment"], r["run_id"]) not in local_ids]
            skipped += more
        for s in skipped:
            print(f"paperlab report: skipped {s}", file=sys.stderr)
        if not runs:
            raise ReportError(f"no usable runs ({len(skipped)} file(s) skipped)")
        sources = [str(d) for d in args.runs_dirs]
        sources += [f"W&B {args.wandb_project}"] if args.wandb_project else []
        out = args.out or (args.runs_dirs[0] / "report" if args.runs_dirs else Path("runs/report"))
        written = write_report(runs, skipped, sources, out)
    except ReportError as e:
        print(f"paperlab report: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"{len(runs)} run(s), {len(skipped)} skipped")
    for p in written:
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
