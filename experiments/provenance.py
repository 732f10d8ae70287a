"""Where a run came from: git state, package versions, hardware, command line."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

PACKAGES = ("torch", "torchvision", "lightning", "torchmetrics", "jsonargparse", "wandb", "timm",
            "numpy", "pycocotools", "paperlab")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=False,
                             cwd=Path(__file__).resolve().parent.parent)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_state() -> dict[str, object]:
    """Commit SHA and whether tracked files differ from it (``None`` outside a checkout)."""
    sha = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": sha, "dirty": bool(status) if status is not None else None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, object]:
    hw: dict[str, object] = {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        hw["gpu"] = torch.cuda.get_device_name(0)
        hw["gpu_count"] = torch.cuda.device_count()
    return hw


def label(hw: dict[str, object]) -> str:
    """Short hardware label for tables, e.g. ``1x NVIDIA H100``, ``CPU 2c (Xeon ...)``, ``CPU 2c, 1 thread (Xeon ...)``.

    A CPU run's speed depends on how many threads it used, so a run with fewer torch threads than
    cores says so (and is not put on one speed plot with runs that used every core).
    """
    if "gpu" in hw:
        return f"{hw.get('gpu_count', 1)}x {hw['gpu']}"
    cores, threads = hw.get("cpu_count"), hw.get("torch_threads")
    used = f", {threads} thread{'s' if threads != 1 else ''}" if threads and cores and threads < cores else ""
    return f"CPU {cores}c{used} ({hw.get('cpu')})"


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def process_start() -> datetime:
    """When this process started (Linux: from /proc, so Python's own start-up counts); now elsewhere.

    A run's wall time is ``finished - started`` in its results.json; the imports before the run
    recorder exists take seconds a run, which adds up over a sweep's trials.
    """
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), timezone.utc)
    except (OSError, ValueError, IndexError, StopIteration):
        return datetime.now(timezone.utc)


def collect() -> dict[str, object]:
    """Everything that says where a run came from, as JSON-ready data."""
    return {
        "git": git_state(),
        "packages": versions(),
        "hardware": hardware(),
        "command": sys.argv,
        "host": platform.node(),
        "started": process_start().isoformat(timespec="seconds"),
    }
