"""Whether a run folder that ``paperlab reproduce`` or ``paperlab sweep`` would reuse was trained with the
config it is about to be reused for.

Both skip a finished run (``results.json`` records the fit) so that they resume over several sittings.
A run left by an earlier version of a demo or sweep config would then be tabulated silently as if it were
the current one — e.g. a segmentation demo whose encoder options changed loads into the new net without
error, because the weight shapes agree. ``stale_reasons`` compares what the command line asks for (its
``--config`` files, then its ``--key=value`` overrides) with the run's own ``config.yaml`` (which
LightningCLI writes fully resolved when the fit starts): every value asked for must be the run's value.
Keys the callers set per run (run folder, progress bar, logger) are not compared, nor are defaults the
config files leave out: a changed default in the code is not seen here, only a changed config.
"""

from __future__ import annotations

import math
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from experiments.resume import flatten

# Set by the launcher for every run, not part of what the run computes.
IGNORED = ("trainer.default_root_dir", "trainer.enable_progress_bar", "trainer.logger", "ckpt_path",
           "experiment", "run_id", "runs_dir", "config", "print_config")


def expected_config(args: list[str]) -> dict[str, Any]:
    """The nested config a ``fit`` command line asks for: its YAML files merged in order, then the
    ``--a.b.c=value`` / ``--a.b.c value`` overrides (values read as YAML, as jsonargparse does)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--"):
            i += 1
            continue
        key, sep, value = token[2:].partition("=")
        if not sep:
            value = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else "true"
            i += 1
        i += 1
        if key == "config":
            _merge(out, yaml.safe_load(Path(value).read_text()) or {})
        else:
            _merge(out, _nest(key.split("."), yaml.safe_load(value)))
    return out


def _nest(keys: list[str], value: Any) -> dict[str, Any]:
    return {keys[0]: _nest(keys[1:], value) if len(keys) > 1 else value}


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def _same(want: Any, have: Any) -> bool:
    """``want`` (from a config file) equals ``have`` (resolved): numbers within rounding, YAML's ``1e-3``
    string against jsonargparse's float, a dict or list item against a resolved one with defaults added."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(k in have and _same(v, have[k]) for k, v in want.items())
    if isinstance(want, (list, tuple)):
        return isinstance(have, (list, tuple)) and len(want) == len(have) and all(map(_same, want, have))
    if isinstance(want, bool) or isinstance(have, bool):
        return want == have
    if isinstance(want, (int, float)) or isinstance(have, (int, float)):
        try:
            return math.isclose(float(want), float(have), rel_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return want == have


def stale_reasons(run_dir: Path, args: list[str]) -> list[str]:
    """How the run in ``run_dir`` differs from what ``args`` asks for; empty when it matches or when the
    folder has no ``config.yaml`` to compare with (nothing ran there yet)."""
    saved = Path(run_dir) / "config.yaml"
    if not saved.exists():
        return []
    have = flatten(yaml.safe_load(saved.read_text()) or {})
    reasons = []
    for key, want in flatten(expected_config(args)).items():
        if key in IGNORED:
            continue
        if key not in have:
            reasons.append(f"{key}: the run has no such key (config: {want!r})")
        elif not _same(want, have[key]):
            reasons.append(f"{key}: run {have[key]!r}, config {want!r}")
    return reasons


def set_aside_if_stale(run_dir: Path, args: list[str]) -> Path | None:
    """Move a run folder trained with another config to ``<run>.stale-<time>`` (kept, not deleted) so the
    caller trains afresh; prints one line naming the differences. Returns the new place, or None."""
    reasons = stale_reasons(run_dir, args)
    if not reasons:
        return None
    aside = run_dir.with_name(f"{run_dir.name}.stale-{datetime.now():%Y%m%d-%H%M%S}")
    shutil.move(str(run_dir), str(aside))
    shown = "; ".join(reasons[:3]) + (f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else "")
    print(f"{run_dir}: trained with another config ({shown}); moved to {aside.name}, training afresh",
          flush=True)
    return aside
