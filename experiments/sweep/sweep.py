"""``paperlab sweep FILE [--parallel N] [--wandb] [--runs-dir DIR] [--report METRIC] [--dry-run]``: ablations as sweeps.

Also ``[--nproc-per-node N]`` or ``[--slurm --nodes N --gpus-per-node G --time T ...]``: trials on many processes.

FILE is W&B sweep YAML. The base run lives in ``command``, so the very same file also works
with ``wandb sweep FILE`` + ``wandb agent`` (no paperlab-only keys)::

    name: alexnet-lrn                  # experiment name of the trials: <runs>/<name>/<trial id>/
    method: grid                       # grid | random | bayes (bayes runs as random locally)
    metric: {name: val/acc1, goal: maximize}
    run_cap: 12                        # random/bayes: number of trials (required locally)
    parameters:                        # CLI keys; the first value of each is the base setting
      model.init_args.lrn: {values: [true, false]}
      seed_everything: {values: [0, 1, 2]}   # seeds: averaged over in the ablation table
    command: [${env}, ${interpreter}, -m, experiments, fit,
              --config, configs/alexnet/demo.yaml, ${args}]

The tokens after ``fit`` (macros dropped) are the base arguments; ``${args}`` must be present
(W&B expands it to ``--key=value``). Locally each trial is a normal tracked run::

    python -m experiments fit <base> --experiment <name> --run_id <id> --runs_dir <runs> --key=value ...

with ``id`` a hash of the sweep name, base arguments and the trial's parameters. A restart
skips every trial whose run folder holds a results.json with stage ``fit``; any other trial
starts again from scratch. ``<runs>/<name>/sweep_state.json`` records each trial's status,
return code, attempts and stderr tail; a failed trial does not stop the sweep, it makes the
exit status 1. At the end the ablation table (per setting: mean ± std over seeds, n, Δ vs the
base setting, Welch 95 % CI of Δ) is printed and written to ``<runs>/<name>/ablation.{md,csv}``.

``--set KEY=VALUE`` (repeatable) adds a CLI override to the base arguments of every trial, e.g.
``--set trainer.max_epochs=1`` for a shortened sweep; it is part of the trial ids, so shortened
and full-length trials never mix.

``--wandb`` registers the file with ``wandb.sweep`` and runs ``wandb.agent`` with a function that
launches the same subprocess with the agent's parameters and run id. It needs
``WANDB_MODE=online``: offline W&B cannot host a sweep.

``--nproc-per-node N`` runs each trial under ``torchrun --standalone`` (local and W&B agent);
``--slurm --nodes N --gpus-per-node G --time T`` submits one array job whose task i runs
``--trial-index i``: trial i alone, through ``srun``, resumed from its ``interrupted.ckpt`` when the
task was requeued. Both add their trainer settings to the trial ids (docs/RUNS.md, "Many GPUs and nodes").
``--slurm --wandb`` registers the sweep (or joins ``--sweep-id``) and submits an array job whose every
task is a W&B agent for one trial (``--wandb --sweep-id ID --count 1``, the trial through ``srun``); a
requeued task relaunches its own trial, which resumes its ``interrupted.ckpt`` and W&B run, instead of
asking the agent for a new one (``trial_state/task-<array job>_<task>.json`` remembers it).

Bad input (unknown key, empty ``values``, a parameter the CLI rejects: checked once with
``--print_config`` on the first trial) exits 2 before anything is written.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml

from experiments.callbacks import RunRecorder
from experiments.children import run_child, stop_children_on_sigterm
from experiments.resume import resume_from
from experiments.slurm import add_options as add_slurm_options
from experiments.slurm import check as check_slurm
from experiments.slurm import sbatch_header, submit, trainer_args
from experiments.stale_runs import set_aside_if_stale
from experiments.sweep.stats import (
    mean_std,
    welch_ci,
)
from experiments.sweep.sweep_spec import (
    SEED,
    Sweep,
    SweepError,
    Trial,
    check_cli,
    check_digest,
    cli_value,
    enumerate_trials,
    load_sweep,
    trial_command,
)

# ----------------------------------------------------------------------------- state

def is_done(run_dir: Path) -> bool:
    """A trial is done when its results.json (current version) records the fit stage."""
    try:
        return "fit" in RunRecorder.load(run_dir / "results.json").get("stages", [])
    except (OSError, ValueError):
        return False


class State:
    """``sweep_state.json``: per trial status, return code, attempts, stderr tail. Atomic writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"trials": {}}

    def update(self, tid: str, **fields: Any) -> None:
        with self.lock:
            self.data["trials"].setdefault(tid, {}).update(fields)
            self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(self.path)


_PRINT_LOCK = threading.Lock()


def _say(line: str) -> None:
    """One whole line to stdout. ``print`` writes the text and its newline in two calls, so
    lines printed by parallel trials' threads could run together ("launch Alaunch B")."""
    with _PRINT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def launch(cmd: list[str], run_dir: Path) -> tuple[int, str]:
    """Run one trial, its output in the run folder; returns (returncode, stderr tail)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    out, err = run_dir / "sweep_stdout.log", run_dir / "sweep_stderr.log"
    with open(out, "w") as fo, open(err, "w") as fe:
        rc = run_child(cmd, stdout=fo, stderr=fe)
    return rc, err.read_text(errors="replace")[-2000:]


Launcher = Callable[[list[str], Path], tuple[int, str]]


def torchrun(nproc: int, launcher: Launcher = launch) -> Launcher:
    """Each trial as ``torchrun --standalone --nproc-per-node N -m experiments fit ...``.

    ``--standalone`` rendezvous on a free local port, so parallel trials never collide; its
    rendezvous id is random, which names nothing: the trial's ``--run_id`` names the run folder
    for every rank (``experiments.launch``)."""
    def run(cmd: list[str], run_dir: Path) -> tuple[int, str]:
        return launcher([cmd[0], "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                         *cmd[1:]], run_dir)
    return run


def srun(launcher: Launcher = launch) -> Launcher:
    """Each trial as ``srun python -m experiments fit ...``: one task per GPU of the job's allocation
    (Lightning reads the ranks from ``SLURM_PROCID``), SIGUSR1 from ``--signal`` reaching every task."""
    def run(cmd: list[str], run_dir: Path) -> tuple[int, str]:
        return launcher(["srun", *cmd], run_dir)
    return run


def run_trial(sweep: Sweep, trial: Trial, runs_dir: Path, state: State, launcher: Launcher = launch) -> int:
    """Launch one trial and record the outcome; returns its return code."""
    attempts = state.data["trials"].get(trial.id, {}).get("attempts", 0) + 1
    state.update(trial.id, params=trial.params, status="running", attempts=attempts)
    _say(f"launch {trial.id} " + " ".join(f"{k}={cli_value(v)}" for k, v in trial.params.items()))
    t0 = time.monotonic()
    run_dir = runs_dir / sweep.name / trial.id
    rc, tail = launcher(trial_command(sweep, trial, runs_dir) + resume_from(run_dir), run_dir)
    ok = rc == 0 and is_done(runs_dir / sweep.name / trial.id)
    state.update(trial.id, status="done" if ok else "failed", returncode=rc,
                 seconds=round(time.monotonic() - t0, 1), stderr_tail=None if ok else tail)
    return 0 if ok else (rc or 1)


@contextlib.contextmanager
def _threads_per_trial(parallel: int) -> Iterator[None]:
    """While N trials run at once, each gets cores // N OpenMP threads (unless the user set them).

    Trials inherit the environment; N trials that each take every core oversubscribe them, and
    OpenMP threads that wait on each other then run many times slower.
    """
    if parallel <= 1 or "OMP_NUM_THREADS" in os.environ:
        yield
        return
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // parallel))
    print(f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} per trial (set it to override)", flush=True)
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"]


def run_local(sweep: Sweep, trials: list[Trial], runs_dir: Path, state: State, parallel: int = 1,
              launcher: Launcher = launch) -> int:
    """Run the trials not yet done, ``parallel`` at a time; returns the number that failed."""
    todo = []
    for t in trials:
        set_aside_if_stale(runs_dir / sweep.name / t.id, trial_command(sweep, t, runs_dir)[4:])
        if is_done(runs_dir / sweep.name / t.id):
            state.update(t.id, params=t.params, status="done")
        else:
            todo.append(t)
    print(f"sweep {sweep.name}: {len(trials)} trials, {len(trials) - len(todo)} already done, "
          f"{len(todo)} to run ({parallel} at a time)", flush=True)
    failed = 0
    with _threads_per_trial(parallel), ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(run_trial, sweep, t, runs_dir, state, launcher): t for t in todo}
        try:
            for i, fut in enumerate(as_completed(futures), 1):
                t, rc = futures[fut], fut.result()
                failed += rc != 0
                tail = (state.data["trials"][t.id].get("stderr_tail") or "").strip().splitlines()[-1:]
                outcome = "done" if rc == 0 else f"FAILED (rc={rc}) {' '.join(tail)}"
                _say(f"[{i}/{len(todo)}] {t.id} {outcome}")
        except (KeyboardInterrupt, SystemExit):
            # Ctrl-C reached the running trials too (same process group), SIGTERM stopped them
            # (experiments.children); start no queued ones.
            pool.shutdown(cancel_futures=True)
            raise
    return failed


def register_wandb(sweep: Sweep, sweep_id: str | None) -> str:
    """``sweep_id``, or the id W&B gives the sweep file when registering it."""
    import wandb

    if sweep_id:
        return sweep_id
    try:
        return wandb.sweep(sweep=sweep.raw, project=sweep.raw.get("project") or "paperlab",
                           entity=sweep.raw.get("entity"))
    except wandb.errors.Error as e:
        raise SweepError(f"W&B refused the sweep: {e}") from e


def array_task_file(runs_dir: Path, sweep: Sweep, env: dict[str, str] | os._Environ = os.environ) -> Path | None:
    """Where a SLURM array task running a W&B agent remembers its trial (None outside an array task)."""
    job, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    return runs_dir / sweep.name / "trial_state" / f"task-{job}_{task}.json" if job and task else None


def run_wandb(sweep: Sweep, runs_dir: Path, state: State, sweep_id: str | None,
              launcher: Launcher = launch, count: int | None = None) -> int:
    """Register the sweep (unless joining ``sweep_id``) and run one W&B agent in this process for
    ``count`` trials (default: the sweep's ``run_cap``; an array task: 1).

    In a SLURM array task the trial the agent handed out is written down first; the requeued task
    (pre-emption, time limit) finds it unfinished and relaunches it, same run id and parameters, so it
    resumes its ``interrupted.ckpt`` and W&B run; the agent is not asked again."""
    import wandb

    project, entity = sweep.raw.get("project") or "paperlab", sweep.raw.get("entity")
    task = array_task_file(runs_dir, sweep)
    if task is not None and task.exists():
        mine = json.loads(task.read_text())
        set_aside_if_stale(runs_dir / sweep.name / mine["id"],
                           trial_command(sweep, Trial(mine["id"], mine["params"]), runs_dir)[4:])
        if is_done(runs_dir / sweep.name / mine["id"]):
            print(f"{mine['id']} already done (array task {task.stem})", flush=True)
            return 0
        print(f"array task {task.stem}: relaunching its trial {mine['id']}", flush=True)
        return int(run_trial(sweep, Trial(mine["id"], mine["params"]), runs_dir, state, launcher) != 0)
    sweep_id = register_wandb(sweep, sweep_id)
    print(f"W&B sweep {sweep_id}; more agents: paperlab sweep {sweep.path} --wandb --sweep-id {sweep_id}")
    failed = []

    def trial() -> None:
        # The agent exports the run id and a YAML of {key: {value: v}} before calling us; the
        # subprocess inherits both, so its wandb.init joins the sweep as that run.
        given = yaml.safe_load(Path(os.environ["WANDB_SWEEP_PARAM_PATH"]).read_text()) or {}
        params = {k: given[k]["value"] for k in sweep.parameters if k in given}
        run_id = os.environ["WANDB_RUN_ID"]
        if task is not None:
            task.parent.mkdir(parents=True, exist_ok=True)
            task.write_text(json.dumps({"id": run_id, "params": params, "sweep_id": sweep_id}, default=str))
        rc = run_trial(sweep, Trial(run_id, params), runs_dir, state, launcher)
        if rc:
            failed.append(rc)
            raise RuntimeError(f"trial exited with {rc}")  # the agent marks the run failed

    wandb.agent(sweep_id, function=trial, project=project, entity=entity, count=count or sweep.run_cap)
    return len(failed)


# ----------------------------------------------------------------------------- ablation table

def ablation(sweep: Sweep, trials: list[Trial], runs_dir: Path) -> list[dict[str, Any]]:
    """Per setting (parameters except the seed): metric values over seeds, Δ and CI vs the base."""
    settings: dict[str, dict[str, Any]] = {}
    for t in trials:
        row = settings.setdefault(json.dumps(t.setting, sort_keys=True, default=str),
                                  {"setting": t.setting, "values": [], "missing": 0})
        run_dir = runs_dir / sweep.name / t.id
        metrics = RunRecorder.load(run_dir / "results.json")["metrics"] if is_done(run_dir) else {}
        if sweep.metric in metrics:
            row["values"].append(float(metrics[sweep.metric]))
        else:
            row["missing"] += 1
    rows = list(settings.values())
    if not rows:
        return []
    first = {k: s["values"][0] if "values" in s else s.get("value") for k, s in sweep.parameters.items()
             if k != SEED and ("values" in s or "value" in s)}
    base = next((r for r in rows if r["setting"] == first), rows[0])  # else the first trial's
    for r in rows:
        r["base"] = r is base
        r["mean"], r["std"] = mean_std(r["values"])
        r["n"] = len(r["values"])
        known = r["mean"] is not None and base["mean"] is not None and not r["base"]
        r["delta"] = r["mean"] - base["mean"] if known else None
        r["ci"] = None if r["base"] else welch_ci(r["values"], base["values"])
    return rows


def _label(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:  # no trial ran (a W&B agent that got none)
        return []
    keys = [k for k in rows[0]["setting"] if len({cli_value(r["setting"].get(k)) for r in rows}) > 1]
    leaves = [k.rsplit(".", 1)[-1] for k in keys]
    names = [leaf if leaves.count(leaf) == 1 else k for k, leaf in zip(keys, leaves)]
    return [", ".join(f"{n}={cli_value(r['setting'].get(k))}" for n, k in zip(names, keys)) or "(all)"
            for r in rows]


def ablation_markdown(sweep: Sweep, rows: list[dict[str, Any]]) -> str:
    goal = f", {sweep.goal}" if sweep.goal else ""
    lines = [f"## Ablation: {sweep.name} — {sweep.metric}{goal}", "",
             f"| setting | {sweep.metric} mean ± std | n | Δ vs base | 95 % CI of Δ (Welch) |",
             "|---|---|---|---|---|"]
    for label, r in zip(_label(rows), rows):
        stat = "—" if r["mean"] is None else f"{r['mean']:.4f}"
        stat += f" ± {r['std']:.4f}" if r["std"] is not None else ""
        delta = "base" if r["base"] else "—" if r["delta"] is None else f"{r['delta']:+.4f}"
        ci = "—" if r["ci"] is None else f"[{r['ci'][0]:+.4f}, {r['ci'][1]:+.4f}]"
        lines.append(f"| {label}{' (base)' if r['base'] else ''} | {stat} | {r['n']} | {delta} | {ci} |")
    missing = sum(r["missing"] for r in rows)
    lines += ["", "Std: sample std over seeds. CI: Welch's t-interval of mean − base mean "
              "(needs n ≥ 2 on both sides)." + (f" {missing} trial(s) without {sweep.metric} "
                                                "(failed or not run) are left out." if missing else "")]
    return "\n".join(lines) + "\n"


def write_ablation(sweep: Sweep, rows: list[dict[str, Any]], folder: Path,
                   extra: Sequence[tuple[Sweep, list[dict[str, Any]]]] = ()) -> str:
    """Write ``ablation.md`` and ``ablation.csv`` atomically; returns the Markdown.

    ``extra``: tables of further metrics over the same trials (``--report``), written after the
    sweep's own metric in both files.
    """
    tables = [(sweep, rows), *extra]
    md = "\n".join(ablation_markdown(s, r) for s, r in tables)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ablation.md.tmp").write_text(md)
    keys = list(rows[0]["setting"]) if rows else []
    with open(folder / "ablation.csv.tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, "metric", "mean", "std", "n", "delta", "ci_low", "ci_high", "df", "base",
                    "missing"])
        for s, table in tables:
            for r in table:
                ci = r["ci"] or (None, None, None)
                w.writerow([*[cli_value(r["setting"].get(k)) for k in keys], s.metric, r["mean"], r["std"],
                            r["n"], r["delta"], *ci, r["base"], r["missing"]])
    for name in ("ablation.md", "ablation.csv"):
        os.replace(folder / f"{name}.tmp", folder / name)
    return md


# ----------------------------------------------------------------------------- one trial, SLURM arrays

def run_index(sweep: Sweep, trials: list[Trial], index: int, runs_dir: Path, launcher: Launcher = launch) -> int:
    """``--trial-index I``: trial I alone (what array task I runs); 0 when it is (or was) done.

    A trial stopped by a signal (SLURM's SIGUSR1 before the time limit or a pre-emption) left
    ``interrupted.ckpt``; the requeued task relaunches it with ``--ckpt_path`` (``run_trial``). The
    CLI's own auto-resume does not apply here: it is for launcher-made run ids, and the trial's is explicit.
    Array tasks run at once on different nodes, so each records its state in its own file.
    """
    if not 0 <= index < len(trials):
        raise SweepError(f"--trial-index {index}: the sweep has {len(trials)} trials (0 .. {len(trials) - 1})")
    trial = trials[index]
    set_aside_if_stale(runs_dir / sweep.name / trial.id, trial_command(sweep, trial, runs_dir)[4:])
    if is_done(runs_dir / sweep.name / trial.id):
        print(f"{trial.id} already done", flush=True)
        return 0
    state = State(runs_dir / sweep.name / "trial_state" / f"{trial.id}.json")
    state.data.update(sweep=sweep.name, index=index)
    return run_trial(sweep, trial, runs_dir, state, launcher)


def array_script(args: argparse.Namespace, sweep: Sweep, trials: list[Trial], sweep_id: str | None = None) -> str:
    """The sbatch array script: task i runs ``paperlab sweep FILE --trial-index i`` with this job's shape;
    with ``sweep_id`` (``--wandb``), every task is a W&B agent of that sweep for one trial."""
    if sweep_id is not None:
        return wandb_array_script(args, sweep, len(trials), sweep_id)
    lines = sbatch_header(args, args.job_name or f"paperlab-sweep-{sweep.name}", array=len(trials))
    lines += ["# Task i runs trial i in runs/<sweep>/<trial id>/; a requeued task resumes its trial's interrupted.ckpt.",
              *[f"#   {i}: {t.id} " + " ".join(f"{k}={cli_value(v)}" for k, v in t.params.items())
                for i, t in enumerate(trials)],
              "export WANDB_MODE=${WANDB_MODE:-offline}",
              f"export OMP_NUM_THREADS={args.cpus_per_task}",
              ""]
    cmd = sweep_task_cmd(args)
    lines.append(" ".join(shlex.quote(a) for a in cmd) + ' --trial-index "$SLURM_ARRAY_TASK_ID"')
    return "\n".join(lines) + "\n"


def sweep_task_cmd(args: argparse.Namespace) -> list[str]:
    """``paperlab sweep FILE`` as an array task runs it: the same runs folder, shape and ``--set``s."""
    cmd = [args.python, "-m", "experiments", "sweep", str(args.file), "--runs-dir", str(args.runs_dir),
           "--nodes", str(args.nodes), "--gpus-per-node", str(args.gpus_per_node)]
    for o in args.set:
        cmd += ["--set", o]
    return cmd


def wandb_array_script(args: argparse.Namespace, sweep: Sweep, tasks: int, sweep_id: str) -> str:
    """``tasks`` array tasks, each ``paperlab sweep FILE --wandb --sweep-id ID --count 1``: one W&B agent
    that runs one trial through ``srun`` (the agent's process is the batch step; the trial's ranks
    are the job's tasks). Not ``wandb agent --count 1 ID`` itself: that runs the sweep file's
    ``command`` once on the batch host, without ``srun``, the trial's run id or the requeue record."""
    lines = sbatch_header(args, args.job_name or f"paperlab-sweep-{sweep.name}", array=tasks)
    lines += [f"# Each task is a W&B agent of sweep {sweep_id} for one trial, in runs/<sweep>/<W&B run id>/;",
              "# a requeued task relaunches its own trial (trial_state/task-<array job>_<task>.json).",
              "export WANDB_MODE=online  # a W&B sweep needs the server",
              f"export OMP_NUM_THREADS={args.cpus_per_task}",
              ""]
    cmd = sweep_task_cmd(args)
    cmd += ["--wandb", "--sweep-id", sweep_id, "--count", "1"]
    lines.append(" ".join(shlex.quote(a) for a in cmd))
    return "\n".join(lines) + "\n"


def cluster_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` overrides of the trials' processes; part of the trial ids, as the world size sets the
    effective batch: ``--nproc-per-node N`` (torchrun here) or ``--nodes``/``--gpus-per-node`` (SLURM)."""
    cluster = args.slurm or args.nodes is not None or args.gpus_per_node is not None
    if args.nproc_per_node < 1:
        raise SweepError("--nproc-per-node must be >= 1")
    if cluster and args.nproc_per_node > 1:
        raise SweepError("--nproc-per-node runs trials under torchrun here; on SLURM use --nodes and --gpus-per-node")
    if args.wandb and args.trial_index is not None:
        raise SweepError("--trial-index runs trial I of the local list; with --wandb the agent picks the trials")
    if not cluster:
        return [f"trainer.devices={args.nproc_per_node}", "trainer.strategy=ddp"] if args.nproc_per_node > 1 else []
    args.nodes = 1 if args.nodes is None else args.nodes
    args.gpus_per_node = 1 if args.gpus_per_node is None else args.gpus_per_node
    try:
        if args.slurm:
            check_slurm(args, "paperlab sweep --slurm")
        elif args.nodes < 1 or args.gpus_per_node < 0:
            raise SweepError("--nodes must be >= 1 and --gpus-per-node >= 0")
    except ValueError as e:
        raise SweepError(str(e).removeprefix("paperlab sweep --slurm: ")) from e
    return [f"{k}={v}" for k, v in trainer_args(args.nodes, args.gpus_per_node)]


# ----------------------------------------------------------------------------- entry point

def end_validation(args: list[str]) -> list[str]:
    """``["--trainer.check_val_every_n_epoch=1"]`` when ``args`` end the runs at an epoch their config
    does not validate at (a demo that validates every 2nd epoch, cut to 1): such a trial would finish
    without its metric and leave the ablation table empty. ``[]`` otherwise."""
    epochs, every = None, 1
    for i, token in enumerate(args):
        key, sep, value = token.partition("=")
        value = value if sep else (args[i + 1] if i + 1 < len(args) else "")
        if key == "--config" and Path(value).is_file():
            every = (yaml.safe_load(Path(value).read_text()).get("trainer") or {}).get("check_val_every_n_epoch", every)
        elif key == "--trainer.check_val_every_n_epoch":
            every = int(value)
        elif key == "--trainer.max_epochs":
            epochs = int(value)
    return [] if epochs is None or epochs % every == 0 else ["--trainer.check_val_every_n_epoch=1"]


def with_overrides(sweep: Sweep, overrides: list[str]) -> Sweep:
    """``KEY=VALUE`` strings appended to the base arguments as ``--KEY=VALUE``, and validation after
    every epoch when they shorten the runs past the config's validation interval (``end_validation``)."""
    extra = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if not sep or not key:
            raise SweepError(f"--set {o!r}: expected KEY=VALUE, e.g. trainer.max_epochs=1")
        key = key.removeprefix("--")
        if key in sweep.parameters:  # the trial's parameters come last on its command line and would win
            raise SweepError(f"--set {o!r}: parameters.{key} of {sweep.name} sets {key} in every trial and "
                             "overrides it; change the sweep file instead")
        extra.append(f"--{key}={value}")
    if not extra:
        return sweep
    if added := end_validation([*sweep.base_args, *extra]):
        print(f"note: {added[0]} added: the runs now end before the config's next validation", flush=True)
    return dataclasses.replace(sweep, base_args=[*sweep.base_args, *extra, *added])


def main(argv: list[str] | None = None) -> None:
    """``paperlab sweep``: see the module docstring."""
    stop_children_on_sigterm()
    ap = argparse.ArgumentParser(prog="paperlab sweep", description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, help="sweep YAML (W&B sweep format)")
    ap.add_argument("--parallel", type=int, default=1, help="trials run at the same time (local)")
    ap.add_argument("--wandb", action="store_true", help="register with W&B and run a W&B agent")
    ap.add_argument("--sweep-id", default=None, help="with --wandb: join this existing W&B sweep")
    ap.add_argument("--count", type=int, default=None,
                    help="with --wandb: trials this agent runs (default run_cap); with --slurm: array tasks")
    ap.add_argument("--runs-dir", type=Path, default=Path("runs"), help="root of the run folders")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override added to every trial's base arguments (repeatable)")
    ap.add_argument("--report", action="append", default=[], metavar="METRIC",
                    help="also tabulate this logged metric over the same trials, e.g. val/boundary_acc (repeatable)")
    ap.add_argument("--dry-run", action="store_true",
                    help="validate and list the trials (with --slurm: print the array script), run nothing")
    ap.add_argument("--nproc-per-node", type=int, default=1,
                    help="run each trial under torchrun with N processes (trainer.devices=N, ddp)")
    ap.add_argument("--slurm", action="store_true",
                    help="submit one SLURM array job, task i running trial i (needs --time)")
    ap.add_argument("--trial-index", type=int, default=None,
                    help="run only trial I of the list (what SLURM array task I runs)")
    add_slurm_options(ap.add_argument_group("SLURM (with --slurm; --nodes/--gpus-per-node also with --trial-index)"))
    ap.set_defaults(nodes=None, gpus_per_node=None)
    args = ap.parse_args(argv)
    try:
        sweep = with_overrides(load_sweep(args.file), [*args.set, *cluster_overrides(args)])
        if args.count is not None and args.count < 1:
            raise SweepError("--count must be >= 1")
        dry_submit = args.slurm and args.dry_run and not args.sweep_id  # prints the script, registers nothing
        if args.wandb and not dry_submit and os.environ.get("WANDB_MODE", "online") in ("offline", "disabled", "dryrun"):
            raise SweepError("--wandb needs the W&B server, and WANDB_MODE=offline cannot host a sweep; "
                             "run locally (without --wandb) or set WANDB_MODE=online after `wandb login`")
        if sweep.method == "bayes" and not args.wandb:
            print("note: bayes search needs W&B's optimiser; locally it runs as random search "
                  "over the same space (run_cap trials)")
        trials = enumerate_trials(sweep, limit=1 if args.wandb else None)
        state_path = args.runs_dir / sweep.name / "sweep_state.json"
        digest = check_digest(sweep)
        cached = state_path.exists() and json.loads(state_path.read_text()).get("checked") == digest
        if args.trial_index is not None:  # an array task: checked when the array was submitted
            launcher = srun(launch) if "SLURM_JOB_ID" in os.environ else launch
            launcher = torchrun(args.nproc_per_node, launcher) if args.nproc_per_node > 1 else launcher
            sys.exit(run_index(sweep, trials, args.trial_index, args.runs_dir, launcher))
        if not cached:
            check_cli(sweep, trials[0], args.runs_dir)
    except SweepError as e:
        print(f"paperlab sweep: error: {e}", file=sys.stderr)
        sys.exit(2)
    if args.slurm:
        sweep_id = None
        if args.wandb:
            try:
                tasks = args.count or len(enumerate_trials(sweep))  # grid: every point; random/bayes: run_cap
                trials = [Trial(str(i), {}) for i in range(tasks)]
                sweep_id = "<sweep id>" if args.dry_run and not args.sweep_id else register_wandb(sweep, args.sweep_id)
            except SweepError as e:
                print(f"paperlab sweep: error: {e}", file=sys.stderr)
                sys.exit(2)
        script = array_script(args, sweep, trials, sweep_id)
        if args.dry_run:
            print(script, end="")
        else:
            try:
                submit(script, Path("runs/slurm") / f"{args.job_name or 'paperlab-sweep-' + sweep.name}.sbatch")
            except ValueError as e:
                print(f"paperlab sweep: error: {e}", file=sys.stderr)
                sys.exit(2)
            shape = f"--nodes {args.nodes} --gpus-per-node {args.gpus_per_node}"
            if sweep_id is not None:
                print(f"W&B sweep {sweep_id}: its page shows the trials; run folders: {args.runs_dir / sweep.name}/")
            else:
                print(f"status: paperlab sweep {args.file} {shape} --dry-run; when all are done, the same without "
                      "--dry-run writes the ablation table")
        return
    launcher = torchrun(args.nproc_per_node, launch) if args.nproc_per_node > 1 else launch
    if args.wandb and "SLURM_JOB_ID" in os.environ:  # an array task's agent: the trial's ranks are the job's tasks
        launcher = srun(launcher)
    if args.dry_run:
        for t in trials:
            status = "done" if is_done(args.runs_dir / sweep.name / t.id) else "to run"
            print(f"{t.id} [{status}] {' '.join(trial_command(sweep, t, args.runs_dir)[3:])}")
        return
    task = array_task_file(args.runs_dir, sweep) if args.wandb else None
    if task is not None:  # array tasks run at once on different nodes: each its own state file
        state_path = task.with_name(f"{task.stem}-state.json")
    state = State(state_path)
    state.data.update(sweep=sweep.name, file=str(args.file), method=sweep.method, checked=digest)
    state.save()
    if args.wandb:
        if args.parallel > 1:
            print(f"note: one W&B agent per process; start {args.parallel - 1} more with --sweep-id")
        try:
            failed = run_wandb(sweep, args.runs_dir, state, args.sweep_id, launcher, args.count)
        except SweepError as e:
            print(f"paperlab sweep: error: {e}", file=sys.stderr)
            sys.exit(2)
        if task is not None:  # one trial of many: the table is the sweep's, on W&B
            sys.exit(1 if failed else 0)
        trials = [Trial(tid, t["params"]) for tid, t in state.data["trials"].items() if "params" in t]
    else:
        failed = run_local(sweep, trials, args.runs_dir, state, args.parallel, launcher)
    rows = ablation(sweep, trials, args.runs_dir)
    # the sweep's goal is its own metric's: a reported metric's table names no direction (IS is maximised, KID not)
    extra = [(s, ablation(s, trials, args.runs_dir)) for s in
             (dataclasses.replace(sweep, metric=m, goal=None) for m in args.report if m != sweep.metric)]
    print()
    print(write_ablation(sweep, rows, args.runs_dir / sweep.name, extra))
    print(f"ablation: {(args.runs_dir / sweep.name / 'ablation.md').resolve()}")
    if failed:
        print(f"paperlab sweep: {failed} trial(s) failed; see {state_path}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
