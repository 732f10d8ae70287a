"""``paperlab reproduce [--runs-dir DIR] [--out FILE] [--only PATTERN] [--parallel N]``: every demo, every ablation.

Runs each ``configs/*/demo.yaml`` as written (one tracked run, id ``reproduce``), each
``configs/sweeps/*.yaml`` with the shortening given by ``--sweep-set`` (default: one epoch per
trial, every seed), the trivial baselines of each demo's data, ``paperlab explain --method all``
on the AlexNet demo's checkpoint (unless ``--no-explain``), the segmentation nets side by side
(``seg_table``: every segmentation net's checkpoint, cost and memory measured in one process), the
detection speed table (``det_speed``: every detector timed per stage in one process), the DANN
table (``dann_table``: source only and DANN x 3 seeds, source only with mixed BN and the oracle at seed 0), the SSL table (``pretext_table``: random init, four pretext
tasks, SimCLR, MoCo v2 x 3 seeds, linear evaluation and kNN), and then writes ``docs/RESULTS.md``: the
miniature paper table with speed (``paperlab report`` over the demo runs), the trivial baselines,
those tables, and every sweep's ablation table (the transfer sweeps with their accuracy-against-N / against-n plot,
``experiments/transfer_plot.py``; the multi-task sweep with val/box_iou beside val/acc1),
with the plots beside it in ``docs/figures/``.

Resumable: a demo run or sweep trial whose results.json records a finished fit is not run again,
so an interrupted reproduce picks up where it stopped. The page gives each step's time from its runs'
own records (``finished - started`` in results.json, summed over a sweep's trials) and their sum, so
it says what the whole reproduce cost on the machine that wrote it even when it was run over several
sittings.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml

from experiments import provenance
from experiments.bench.det_speed import table as det_table
from experiments.children import run_child, stop_children_on_sigterm
from experiments.report.report import load_local, write_report
from experiments.report.report_rows import in_repo
from experiments.reproduce.baselines import baseline, baseline_table
from experiments.reproduce.dann_table import STEP as DANN_STEP
from experiments.reproduce.dann_table import dann_result, run_all
from experiments.reproduce.dann_table import table as dann_table
from experiments.reproduce.det_table import STEP as DET_STEP
from experiments.reproduce.det_table import det_result
from experiments.reproduce.explain_step import explain_result, explain_table
from experiments.reproduce.seg_table import STEP as SEG_STEP
from experiments.reproduce.seg_table import seg_result
from experiments.reproduce.seg_table import table as seg_table
from experiments.resume import resume_from
from experiments.stale_runs import set_aside_if_stale
from experiments.sweep.sweep import is_done
from experiments.transfer_plot import plot

ROOT = Path(__file__).resolve().parents[2]
# The SSL table (experiments/reproduce/pretext_table.py: random init, four pretext tasks, SimCLR, MoCo v2
# x 3 seeds) runs as a child process and leaves its table in <runs>/pretext_table.md.
PRETEXT_STEP = "pretext_table"


def _run(cmd: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        return run_child(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)


def demo_dir(config: Path, runs: Path) -> Path:
    return runs / f"{config.parent.name}-demo" / "reproduce"


def run_demo(config: Path, runs: Path) -> tuple[Path, int, float]:
    """One demo as written; returns its run folder, exit code and wall time (0 when already done)."""
    experiment = f"{config.parent.name}-demo"
    run_dir = demo_dir(config, runs)
    set_aside_if_stale(run_dir, ["--config", str(config)])
    if is_done(run_dir):
        return run_dir, 0, 0.0
    t0 = time.perf_counter()
    rc = _run([sys.executable, "-m", "experiments", "fit", "--config", in_repo(config), "--experiment", experiment,
               "--run_id", "reproduce", "--runs_dir", in_repo(runs), "--trainer.enable_progress_bar", "false",
               *resume_from(run_dir)],
              runs / "logs" / f"{experiment}.log")
    return run_dir, rc, time.perf_counter() - t0


# Metrics tabulated beside a sweep's own, where its claim shows (the sweep file's comment names them).
SWEEP_REPORTS = {"unet_skips": ["val/boundary_acc"], "fcn_stride": ["val/boundary_acc"],
                 "multitask_weighting": ["val/box_iou"],
                 "gan_improved": ["val/is_shapes", "val/mode_coverage", "val/kid_shapes"]}
# the transfer sweeps' own plot (experiments/transfer_plot.py): sweep file stem -> its --x
SWEEP_PLOTS = {"transfer_by_size": "labels", "transfer_layers": "layers"}


def run_sweep(sweep: Path, runs: Path, sets: list[str], parallel: int = 1) -> tuple[Path | None, int, float]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "experiments", "sweep", str(sweep), "--runs-dir", str(runs / "sweeps"),
           "--parallel", str(parallel)]
    for metric in SWEEP_REPORTS.get(sweep.stem, []):
        cmd += ["--report", metric]
    for s in sets:
        cmd += ["--set", s]
    rc = _run(cmd, runs / "logs" / f"sweep-{sweep.stem}.log")
    table = sweep_table(sweep, runs)
    return (table if table.exists() else None), rc, time.perf_counter() - t0


def transfer_lines(sweep: Path, runs: Path, figures: Path) -> list[str]:
    """The transfer plot and its seed-averaged table for a sweep of ``SWEEP_PLOTS``; [] for others or before any trial."""
    x = SWEEP_PLOTS.get(sweep.stem)
    folder = sweep_dir(sweep, runs)
    if x is None or not folder.is_dir():
        return []
    try:
        table, png = plot(folder, x, out=figures / folder.name / f"transfer_{x}.png")
    except ValueError:  # no finished trial yet
        return []
    return [f"`python experiments/transfer_plot.py {in_repo(folder)} --x {x}` (mean ± std over seeds, trials per cell):",
            "", *table, "", f"![{png.name}](figures/{folder.name}/{png.name})", ""]


def sweep_dir(sweep: Path, runs: Path) -> Path:
    return runs / "sweeps" / (yaml.safe_load(sweep.read_text()).get("name") or sweep.stem)


def sweep_table(sweep: Path, runs: Path) -> Path:
    return sweep_dir(sweep, runs) / "ablation.md"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.2f} h"


def run_seconds(record: Path) -> tuple[float, bool]:
    """A run's wall time from its results.json: ``finished - started``, and whether that is exact.

    Records written before ``finished`` existed end at the file's modification time, and their
    ``started`` was taken after the imports, so they come out a few seconds short (``False``). A run
    resumed in a later process counts from that process's start.
    """
    prov = json.loads(record.read_text()).get("provenance", {})
    if "started" not in prov:
        return 0.0, False
    started = datetime.fromisoformat(prov["started"]).timestamp()
    if "finished" in prov:
        return datetime.fromisoformat(prov["finished"]).timestamp() - started, True
    return record.stat().st_mtime - started, False


def step_time(folder: Path | None) -> tuple[float, int, bool]:
    """Seconds summed over the runs under ``folder`` (a demo run, or a sweep's trials), their number,
    and whether every one was exact."""
    records = sorted(folder.rglob("results.json")) if folder is not None and folder.exists() else []
    times = [run_seconds(r) for r in records]
    return sum(t for t, _ in times), len(times), all(e for _, e in times)


def step_line(rc: int | None, folder: Path | None) -> str:
    """A step's line: its runs' summed wall time, or why there is none."""
    seconds, n, exact = step_time(folder)
    if rc is None:  # not finished in any sitting; a sweep stopped midway has some trials done
        return f"not finished: {n} run{'s' * (n != 1)} so far" if n else "not run yet"
    if rc:
        return f"exit {rc} (log under `logs/`)" + (f", {n} finished runs" if n else "")
    return f"{'' if exact else '≈ '}{_minutes(seconds)}, {n} run{'s' * (n != 1)}"


def _total(folders: list[Path | None]) -> str:
    times = [step_time(f) for f in folders]
    seconds, n = sum(t for t, _, _ in times), sum(k for _, k, _ in times)
    approx = "" if all(e for _, _, e in times) else "≈ "
    return f"{approx}{_minutes(seconds)} over {n} runs"


def done_line(demos: list, sweeps: list) -> str:
    """How complete the page is: a reproduce spread over sittings shows what is still to run."""
    done_demos = sum(rc == 0 for _, _, rc, _ in demos)
    done_sweeps = sum(rc == 0 and table is not None for _, table, rc, _ in sweeps)
    line = f"Finished: {done_demos} of {len(demos)} demos, {done_sweeps} of {len(sweeps)} sweeps."
    if done_demos < len(demos) or done_sweeps < len(sweeps):
        line += " **This page is partial**: the steps marked 'not run yet' or 'not finished' have no table here."
    return line


def write_page(out: Path, runs: Path, demos: list[tuple[Path, Path, int | None, float]],
               baselines: dict[str, dict], sweeps: list[tuple[Path, Path | None, int | None, float]],
               sets: list[str], total: float, explain: dict | None = None, seg: dict | None = None,
               det: dict | None = None, dann: dict | None = None, pretext: Path | None = None) -> None:
    figures = out.parent / "figures"
    demo_dirs = [d for _, d, rc, _ in demos if rc == 0 and (d / "results.json").exists()]
    step_dirs = [d for _, d, rc, _ in demos if rc is not None] + [
        sweep_dir(s, runs) for s, _, rc, _ in sweeps if rc is not None]
    lines = ["# Results (ShapesWorld demos and ablations)", "",
             "Written by `make reproduce` (`paperlab reproduce`); every number below comes from a run "
             "folder under `" + in_repo(runs) + "`. These are **ShapesWorld** results (the embedded "
             "procedural dataset), not the papers' datasets: the Paper column stays empty on purpose.", "",
             (f"Machine: {provenance.label(provenance.hardware())}. Everything on this page took "
              f"{_total(step_dirs)}, summed over the runs' own wall times: the run time of `make reproduce` "
              "doing them one after another (section Run times; the Hardware column gives each run's threads). "
              f"This sitting: {_minutes(total)}."), "",
             done_line(demos, sweeps), ""]
    if demo_dirs:
        runs_found, skipped = load_local(demo_dirs)
        written = write_report(runs_found, skipped, [in_repo(runs)], figures, link_prefix="figures/")
        table = (figures / "report.md").read_text()
        lines += ["## Demo runs", "", table.split("\n", 1)[1].strip(), ""]
        (figures / "report.md").unlink()
        lines += [f"CSV: `figures/{p.name}`" for p in written if p.suffix == ".csv"] + [""]
    lines += ["## Trivial baselines on the same data", "",
              ("What a model that learns nothing of the task scores on each demo's data (`paperlab baseline "
               "--config <demo>`: the family's trivial models, scored by the family's own metric code); a "
               "demo's number means something only as its distance from these."), "",
              *baseline_table([(c, d) for c, d, _, _ in demos], baselines), ""]
    if explain is not None:
        lines += ["## Seeing inside the networks (AlexNet demo)", "",
                  ("`paperlab explain --config configs/alexnet/demo.yaml --ckpt_path <demo run>/checkpoints/last.ckpt "
                   "--method all` (ShapesWorld, which knows each object's mask); the JSON and PNG grids are in "
                   "the demo run's `explain/`."), "", *explain_table(explain), ""]
    if seg is not None:
        lines += ["## Segmentation nets side by side", "",
                  (f"`paperlab reproduce --only {SEG_STEP}` (`experiments/reproduce/seg_table.py`): each net's "
                   "checkpoint evaluated, and its cost measured, in one process on the U-Net demo's world "
                   "(ShapesWorld; trivial baselines above)."), "", *seg_table(seg), ""]
    if det is not None:
        lines += ["## Detection speed table", "",
                  (f"`paperlab reproduce --only {DET_STEP}` (`paperlab bench --mode det_speed`, "
                   "`experiments/bench/det_speed.py`): every detection demo timed in one process on the Faster "
                   "R-CNN demo's world (ShapesWorld; trivial baselines above), its mAP from its demo run."), "",
                  *det_table(det), ""]
    if dann is not None:
        lines += ["## Domain adaptation: DANN against its baselines", "",
                  (f"`paperlab reproduce --only {DANN_STEP}` (`experiments/reproduce/dann_table.py`): "
                   "`configs/dann/demo.yaml` (ShapesWorld flat backgrounds -> textured backgrounds) in each "
                   "`--model.init_args.mode`, seeds 0-2; source only with `mixed_bn` and the oracle at seed 0; no target "
                   "label used except by the oracle."), "",
                  *dann_table(dann), ""]
    if pretext is not None and pretext.is_file():
        lines += ["## Self-supervision: pretext tasks against contrastive learning", "",
                  (f"`paperlab reproduce --only {PRETEXT_STEP}` (`python -m experiments.reproduce.pretext_table "
                   f"--runs-dir {in_repo(runs)}`): each encoder pre-trained on its demo (SimCLR's world and "
                   "encoder), then linear evaluation (`configs/linear_eval/demo.yaml`) and kNN on the same "
                   "ShapesWorld split, seeds 0-2."), "", pretext.read_text().strip(), ""]
    lines += ["## Run times", "",
              ("Each step's runs' wall times from their results.json (`finished - started`; ≈: records "
               "from before `finished` was recorded, a few seconds short each), summed over a sweep's trials."),
              "", "| Step | Time |", "|---|---|"]
    lines += [f"| `{in_repo(c)}` | {step_line(rc, d)} |" for c, d, rc, _ in demos]
    lines += [f"| `{in_repo(s)}` | {step_line(rc, sweep_dir(s, runs))} |" for s, _, rc, _ in sweeps]
    lines += [f"| All | {_total(step_dirs)} |"]
    shortening = " ".join(f"`--set {s}`" for s in sets) or "none"
    lines += ["", "## Ablation sweeps", "",
              (f"Shortened for reproduce ({shortening}), every seed of each file. Full length: "
              "`paperlab sweep configs/sweeps/<name>.yaml`."), ""]
    for sweep, table, rc, _ in sweeps:
        step = step_line(rc, sweep_dir(sweep, runs))
        lines += [f"### `{in_repo(sweep)}`", "", step[0].upper() + step[1:] + ".", ""]
        text = table.read_text().strip().replace("## Ablation", "#### Ablation") if table else None
        lines += [text or "_no table: see the sweep's log_", ""]
        if table:
            found, skipped = load_local([table.parent])
            plots = [p for p in write_report(found, skipped, [str(table.parent)], figures / table.parent.name)
                     if p.suffix == ".png"]
            lines += [f"![{p.name}](figures/{table.parent.name}/{p.name})" for p in sorted(plots)] + [""]
        lines += transfer_lines(sweep, runs, figures)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out)


def main(argv: list[str] | None = None) -> None:
    """``paperlab reproduce``: see the module docstring."""
    stop_children_on_sigterm()
    ap = argparse.ArgumentParser(prog="paperlab reproduce", description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs-dir", type=Path, default=Path("runs/reproduce"), help="where the runs go")
    ap.add_argument("--out", type=Path, default=Path("docs/RESULTS.md"), help="the page to write")
    ap.add_argument("--configs", type=Path, default=ROOT / "configs",
                    help="folder with <method>/demo.yaml and sweeps/*.yaml")
    ap.add_argument("--only", default="*", help="glob over method/sweep names, e.g. 'alexnet*'")
    ap.add_argument("--sweep-set", action="append", default=None, metavar="KEY=VALUE",
                    help="shortening added to every sweep trial (default: trainer.max_epochs=1)")
    ap.add_argument("--no-sweeps", action="store_true", help="demos and baselines only")
    ap.add_argument("--no-explain", action="store_true",
                    help="skip paperlab explain --method all on the AlexNet demo's checkpoint")
    ap.add_argument("--parallel", type=int, default=1,
                    help="sweep trials at a time, each with cores // N threads (paperlab sweep --parallel)")
    args = ap.parse_args(argv)
    sets = args.sweep_set if args.sweep_set is not None else ["trainer.max_epochs=1"]
    runs = args.runs_dir.resolve()
    t0 = time.perf_counter()
    demos, baselines, sweeps = [], {}, []
    selected = 0
    for config in sorted(args.configs.glob("*/demo.yaml")):
        if not fnmatch.fnmatch(config.parent.name, args.only):  # on the page if an earlier reproduce ran it
            run_dir = demo_dir(config, runs)
            demos.append((config, run_dir, 0 if is_done(run_dir) else None, 0.0))
            if (b := baseline(config, runs, _run, compute=False)) is not None:
                baselines[config.parent.name] = b
            continue
        selected += 1
        print(f"demo {config.parent.name} ...", flush=True)
        run_dir, rc, t = run_demo(config, runs)
        demos.append((config, run_dir, rc, t))
        print(f"  exit {rc}, {_minutes(t)}", flush=True)
        if (b := baseline(config, runs, _run)) is not None:
            baselines[config.parent.name] = b
    explain = None
    alexnet = next(((c, d) for c, d, rc, _ in demos if c.parent.name == "alexnet" and rc == 0), None)
    if alexnet is not None:  # cached in the demo run: computed once, on every later page
        compute = not args.no_explain and fnmatch.fnmatch("alexnet", args.only)
        explain = explain_result(*alexnet, runs, _run if compute else None)
    for sweep in sorted((args.configs / "sweeps").glob("*.yaml")):
        if args.no_sweeps or not fnmatch.fnmatch(sweep.stem, args.only):
            table = sweep_table(sweep, runs)
            sweeps.append((sweep, table if table.exists() else None, 0 if table.exists() else None, 0.0))
            continue
        selected += 1
        print(f"sweep {sweep.stem} ...", flush=True)
        table, rc, t = run_sweep(sweep, runs, sets, args.parallel)
        sweeps.append((sweep, table, rc, t))
        print(f"  exit {rc}, {_minutes(t)}", flush=True)
    if fnmatch.fnmatch(SEG_STEP, args.only):
        selected += 1
        print(f"{SEG_STEP} ...", flush=True)
    seg = seg_result(runs, args.configs.resolve().parent, compute=fnmatch.fnmatch(SEG_STEP, args.only))
    if fnmatch.fnmatch(DET_STEP, args.only):
        selected += 1
        print(f"{DET_STEP} ...", flush=True)
    det = det_result(runs, args.configs.resolve().parent, compute=fnmatch.fnmatch(DET_STEP, args.only))
    dann_failed = 0
    if fnmatch.fnmatch(DANN_STEP, args.only):
        selected += 1
        print(f"{DANN_STEP} ...", flush=True)
        dann_failed = run_all(runs, args.configs.resolve().parent, _run)
    dann = dann_result(runs, args.configs.resolve().parent)
    pretext_failed = 0
    # pretext_table trains from the repository's own configs: only when those are the ones reproduced
    if fnmatch.fnmatch(PRETEXT_STEP, args.only) and args.configs.resolve() == (ROOT / "configs").resolve():
        selected += 1
        print(f"{PRETEXT_STEP} ...", flush=True)
        pretext_failed = int(_run([sys.executable, "-m", "experiments.reproduce.pretext_table", "--runs-dir",
                                   str(runs)], runs / "logs" / f"{PRETEXT_STEP}.log") != 0)
    if not selected:
        print(f"paperlab reproduce: error: nothing matches --only {args.only!r}", file=sys.stderr)
        sys.exit(2)
    write_page(args.out.resolve(), runs, demos, baselines, sweeps, sets, time.perf_counter() - t0, explain, seg,
               det, dann, runs / "pretext_table.md")
    print(f"wrote {args.out}")
    failed = sum(rc not in (0, None) for _, _, rc, _ in demos + sweeps) + dann_failed + pretext_failed
    if failed:
        print(f"paperlab reproduce: {failed} step(s) failed; logs in {runs / 'logs'}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
