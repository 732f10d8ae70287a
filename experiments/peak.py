"""Peak FLOP/s that MFU is measured against.

GPUs: the datasheet's dense tensor-core figure for the run's precision. CPUs have no honest
datasheet figure for a given core count and thread setting, so the peak is *measured*: the
best of a few large square matmuls at the run's dtype, with the run's thread count. A busy
machine measures low, so each run measures again (a fraction of a second) and the cache
keeps the highest figure ever seen per (CPU, threads, dtype).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from experiments.provenance import cpu_model

# Dense (no sparsity) peak FLOP/s from NVIDIA datasheets, by name fragment.
GPU_PEAK = {
    "H200": {"bf16": 989e12, "fp16": 989e12, "tf32": 494e12, "fp32": 67e12},
    "H100": {"bf16": 989e12, "fp16": 989e12, "tf32": 494e12, "fp32": 67e12},
    "A100": {"bf16": 312e12, "fp16": 312e12, "tf32": 156e12, "fp32": 19.5e12},
    "L4": {"bf16": 121e12, "fp16": 121e12, "tf32": 60e12, "fp32": 30e12},
    "V100": {"bf16": 125e12, "fp16": 125e12, "tf32": 15.7e12, "fp32": 15.7e12},
}


def precision_dtype(precision: str) -> torch.dtype:
    """The matmul dtype of a Lightning precision string (``"bf16-mixed"`` -> bfloat16)."""
    p = str(precision)
    if p.startswith("bf16"):
        return torch.bfloat16
    if p.startswith("16"):
        return torch.float16
    return torch.float32


def measure_cpu_peak(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    """Best observed FLOP/s of an ``n x n`` matmul on this CPU with the current threads."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)  # warm-up: thread pool, oneDNN kernel selection
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def _cache_path() -> Path:
    return Path(os.environ.get("PAPERLAB_CACHE", Path.home() / ".cache" / "paperlab")) / "peak_flops.json"


def peak_flops(device: torch.device, precision: str) -> float | None:
    """Peak FLOP/s for MFU on ``device`` at ``precision``; ``None`` for an unknown GPU."""
    dtype = precision_dtype(precision)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        key = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(
            dtype, "tf32" if torch.backends.cuda.matmul.allow_tf32 else "fp32")
        for frag, table in GPU_PEAK.items():
            if frag in name:
                return table[key]
        return None
    key = f"{cpu_model()}|threads={torch.get_num_threads()}|{dtype}"
    path = _cache_path()
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        cache = {}
    measured = measure_cpu_peak(dtype, n=2048 if dtype == torch.float32 else 512)
    if measured > cache.get(key, 0.0):
        cache[key] = measured
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache, indent=1))
        except OSError:
            pass  # a read-only home only costs a re-measurement next time
    return float(cache[key])
