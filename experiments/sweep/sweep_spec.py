"""Reads and validates a sweep file, enumerates its trials and builds each trial's command."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TOP_KEYS = ("program", "entity", "project", "description", "name", "method", "metric",
            "parameters", "early_terminate", "command", "run_cap")  # W&B's documented keys
PARAM_KEYS = ("values", "value", "distribution", "min", "max", "mu", "sigma", "q", "probabilities")
RESERVED = ("experiment", "run_id", "runs_dir", "config", "ckpt_path")  # the sweep sets these
SEED = "seed_everything"
CLI_KEY = re.compile(r"[A-Za-z_]\w*(\.\w+)*")


def _q(x: float, s: dict[str, Any]) -> float:
    return round(x / s.get("q", 1)) * s.get("q", 1)


# W&B's distributions (https://docs.wandb.ai/guides/sweeps/sweep-config-keys), sampled locally.
SAMPLERS: dict[str, Callable[[random.Random, dict[str, Any]], Any]] = {
    "int_uniform": lambda r, s: r.randint(s["min"], s["max"]),
    "uniform": lambda r, s: r.uniform(s["min"], s["max"]),
    "q_uniform": lambda r, s: _q(r.uniform(s["min"], s["max"]), s),
    "log_uniform": lambda r, s: math.exp(r.uniform(s["min"], s["max"])),
    "log_uniform_values": lambda r, s: math.exp(r.uniform(math.log(s["min"]), math.log(s["max"]))),
    "q_log_uniform_values": lambda r, s: _q(SAMPLERS["log_uniform_values"](r, s), s),
    "inv_log_uniform_values": lambda r, s: 1 / math.exp(r.uniform(-math.log(s["max"]), -math.log(s["min"]))),
    "normal": lambda r, s: r.gauss(s.get("mu", 0.0), s.get("sigma", 1.0)),
    "q_normal": lambda r, s: _q(r.gauss(s.get("mu", 0.0), s.get("sigma", 1.0)), s),
    "log_normal": lambda r, s: math.exp(r.gauss(s.get("mu", 0.0), s.get("sigma", 1.0))),
}


class SweepError(ValueError):
    """A sweep file or command the sweep cannot run; ``main`` prints it and exits 2."""


@dataclass
class Sweep:
    """A validated sweep file."""

    path: Path
    name: str
    method: str
    metric: str
    goal: str | None
    parameters: dict[str, dict[str, Any]]
    base_args: list[str]
    run_cap: int | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class Trial:
    """One run of the sweep: its id (run folder and W&B id) and CLI parameters."""

    id: str
    params: dict[str, Any]

    @property
    def setting(self) -> dict[str, Any]:
        return {k: v for k, v in self.params.items() if k != SEED}


# ----------------------------------------------------------------------------- the file

def _distribution(spec: dict[str, Any]) -> str:
    if "distribution" in spec:
        return str(spec["distribution"])
    ints = isinstance(spec.get("min"), int) and isinstance(spec.get("max"), int)
    return "int_uniform" if ints else "uniform"  # W&B's inference from min/max


def _check_param(key: str, spec: Any, method: str) -> None:
    where = f"parameters.{key}"
    if not isinstance(key, str) or not CLI_KEY.fullmatch(key):
        raise SweepError(f"{where}: not a CLI key (expected e.g. model.init_args.lr or {SEED})")
    if key.split(".")[0] in RESERVED:
        raise SweepError(f"{where}: {key.split('.')[0]} is set by paperlab sweep, not a parameter")
    if not isinstance(spec, dict):
        raise SweepError(f"{where}: expected a mapping with values, value or distribution")
    if "parameters" in spec:
        raise SweepError(f"{where}: nested parameters are not supported; use the dotted CLI key")
    unknown = sorted(set(spec) - set(PARAM_KEYS))
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(PARAM_KEYS)})")
    if "values" in spec:
        if not isinstance(spec["values"], list) or not spec["values"]:
            raise SweepError(f"{where}.values: must be a non-empty list")
        return
    if "value" in spec:
        return
    dist = _distribution(spec)
    if method == "grid":
        raise SweepError(f"{where}: grid search needs values or value, not a distribution")
    if dist not in SAMPLERS:
        raise SweepError(f"{where}.distribution: {dist!r} is not one of {', '.join(SAMPLERS)}")
    if "normal" not in dist and not {"min", "max"} <= set(spec):
        raise SweepError(f"{where}: distribution {dist} needs min and max")


def _base_args(command: Any) -> list[str]:
    if not isinstance(command, list) or not command:
        raise SweepError("command: missing; give the base run, e.g. [${env}, ${interpreter}, -m, "
                         "experiments, fit, --config, configs/alexnet/demo.yaml, ${args}]")
    tokens = [str(c) for c in command]
    if "fit" not in tokens:
        raise SweepError("command: must run the fit sub-command (… -m experiments fit --config …)")
    if "${args}" not in tokens:
        raise SweepError("command: must contain ${args} (W&B passes the parameters through it)")
    base = [t for t in tokens[tokens.index("fit") + 1:] if not (t.startswith("${") and t.endswith("}"))]
    for t in base:
        if t.startswith("--") and t[2:].split("=")[0] in RESERVED[:3]:
            raise SweepError(f"command: {t} is set by paperlab sweep")
    configs = [base[i + 1] for i, t in enumerate(base[:-1]) if t == "--config"]
    for c in configs + [t.split("=", 1)[1] for t in base if t.startswith("--config=")]:
        if not Path(c).is_file():
            raise SweepError(f"command: config file {c} not found (paths are relative to {Path.cwd()})")
    if not configs and not any(t.startswith("--config=") for t in base):
        raise SweepError("command: no --config FILE after fit")
    return base


def load_sweep(path: Path) -> Sweep:
    """Read and validate a sweep file; every problem is a ``SweepError`` naming the key."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SweepError(f"{path}: {e}") from e
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: expected a mapping of sweep keys")
    unknown = [k for k in raw if k not in TOP_KEYS]
    if unknown:
        raise SweepError(f"{path}: unknown top-level key {unknown[0]!r} "
                         f"(W&B sweep keys: {', '.join(TOP_KEYS)})")
    method = raw.get("method")
    if method not in ("grid", "random", "bayes"):
        raise SweepError(f"method: {method!r} must be grid, random or bayes")
    metric = raw.get("metric") or {}
    if not isinstance(metric, dict) or not isinstance(metric.get("name", ""), str):
        raise SweepError("metric: expected {name: val/acc1, goal: maximize}")
    if metric.get("goal") not in (None, "maximize", "minimize"):
        raise SweepError(f"metric.goal: {metric['goal']!r} must be maximize or minimize")
    params = raw.get("parameters")
    if not isinstance(params, dict) or not params:
        raise SweepError("parameters: missing or empty")
    for key, spec in params.items():
        _check_param(key, spec, method)
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or run_cap < 1):
        raise SweepError(f"run_cap: {run_cap!r} must be a positive integer")
    name = str(raw.get("name") or Path(path).stem)
    if not re.fullmatch(r"[\w.-]+", name):
        raise SweepError(f"name: {name!r} must be usable as a folder name (letters, digits, _ . -)")
    return Sweep(Path(path), name, method, metric.get("name") or "val/acc1", metric.get("goal"),
                 params, _base_args(raw.get("command")), run_cap, raw)


# ----------------------------------------------------------------------------- trials

def trial_id(sweep: Sweep, params: dict[str, Any]) -> str:
    """8 characters of W&B's id alphabet, a pure function of name, base command and parameters."""
    key = json.dumps([sweep.name, sweep.base_args, sorted(params.items())], default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:8]


def enumerate_trials(sweep: Sweep, limit: int | None = None) -> list[Trial]:
    """Grid: the cartesian product, seeds outermost (every setting gets its first seed early).

    Random (and bayes, locally): ``run_cap`` samples from an RNG seeded by the sweep itself, so a
    restart enumerates the same trials; identical samples collapse into one trial. As in W&B,
    ``seed_everything`` is sampled like any parameter: seed-averaged ablations want ``grid``.
    """
    keys = list(sweep.parameters)
    if sweep.method == "grid":
        order = sorted(keys, key=lambda k: k != SEED)
        grids = [sweep.parameters[k]["values"] if "values" in sweep.parameters[k]
                 else [sweep.parameters[k]["value"]] for k in order]
        combos = (dict(zip(order, c)) for c in itertools.product(*grids))
    else:
        n = limit or sweep.run_cap
        if n is None:
            raise SweepError(f"run_cap: {sweep.method} search needs run_cap to know how many trials to run")
        space = json.dumps([sweep.name, sweep.parameters], sort_keys=True, default=str)
        rng = random.Random(int(hashlib.sha1(space.encode()).hexdigest()[:16], 16))
        combos = ({k: _sample(sweep.parameters[k], rng) for k in keys} for _ in range(n))
    trials: dict[str, Trial] = {}
    for combo in combos:
        params = {k: combo[k] for k in keys}
        trials.setdefault(trial_id(sweep, params), Trial(trial_id(sweep, params), params))
        if limit and len(trials) >= limit:
            break
    return list(trials.values())


def _sample(spec: dict[str, Any], rng: random.Random) -> Any:
    if "values" in spec:
        weights = spec.get("probabilities")
        return rng.choices(spec["values"], weights=weights)[0] if weights else rng.choice(spec["values"])
    if "value" in spec:
        return spec["value"]
    return SAMPLERS[_distribution(spec)](rng, spec)


def cli_value(v: Any) -> str:
    """A parameter value as jsonargparse reads it (YAML scalars; JSON for lists and dicts)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def trial_command(sweep: Sweep, trial: Trial, runs_dir: Path) -> list[str]:
    """The subprocess of one trial; parameters come last so they override the base config."""
    return [sys.executable, "-m", "experiments", "fit", *sweep.base_args, "--experiment", sweep.name,
            "--run_id", trial.id, "--runs_dir", str(runs_dir),
            *[f"--{k}={cli_value(v)}" for k, v in trial.params.items()]]


# ----------------------------------------------------------------------------- the CLI check

def check_cli(sweep: Sweep, trial: Trial, runs_dir: Path) -> None:
    """Run the first trial's command with ``--print_config``: the CLI validates every key."""
    try:
        proc = subprocess.run([*trial_command(sweep, trial, runs_dir), "--print_config"],
                              check=False, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as e:
        raise SweepError(f"command: `--print_config` of the first trial took over {e.timeout} s") from e
    if proc.returncode == 0:
        return
    lines = proc.stderr.strip().splitlines()
    # jsonargparse prints the usage (every option) first; only the part from "error:" on counts.
    err = lines[next((i for i, line in enumerate(lines) if line.startswith("error:")), 0):]

    def named(key: str) -> bool:
        leaf = key.rsplit(".", 1)[-1]
        return any(key in line or f"'{leaf}'" in line or f'"{leaf}"' in line for line in err)

    bad = [k for k in sweep.parameters if named(k)]
    detail = "\n".join(err[:15])
    if bad:
        value = cli_value(trial.params[bad[0]])
        raise SweepError(f"parameters.{bad[0]}: the CLI rejects it (value {value}):\n{detail}")
    raise SweepError(f"command: the CLI rejects the base arguments {' '.join(sweep.base_args)}:\n{detail}")


def check_digest(sweep: Sweep) -> str:
    """What the CLI check depends on: the file and the contents of its base configs."""
    h = hashlib.sha256(json.dumps([sweep.raw, sweep.base_args], sort_keys=True, default=str).encode())
    for i, t in enumerate(sweep.base_args[:-1]):
        if t == "--config":
            h.update(Path(sweep.base_args[i + 1]).read_bytes())
    return h.hexdigest()
