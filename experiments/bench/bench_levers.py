"""Speed levers for ``paperlab bench``: each toggled on its own, as a ratio measured side by side.

Ratios are ``time without ÷ time with`` (> 1 means the lever helps), from interleaved blocks
of plain training steps on one fixed batch (medians over rounds), except ``workers``, which
compares the samples/s of short real fits (0 vs 1 loader process, a third as many rounds), and ``render_cache``,
which times the datamodule's setup rendering ShapesWorld against reading it back from the
render cache (``datamodules/shapes/store.py``).
"""

from __future__ import annotations

import copy
import inspect
import os
import statistics
import time
from typing import Any
from unittest import mock

import lightning as L
import torch

from experiments.bench.steps import fit_summary, plain_steps
from experiments.callbacks import batch_size_of


def inference(module: L.LightningModule, batch: Any, reps: int = 20) -> dict[str, float]:
    """Eval-mode forward: median latency at batch 1 and throughput at the config's batch."""
    module.eval()
    images = batch[0]

    def median_time(x: torch.Tensor) -> float:
        times = []
        with torch.no_grad():
            for i in range(reps + 2):
                t = time.perf_counter()
                module(x)
                if i >= 2:
                    times.append(time.perf_counter() - t)
        return statistics.median(times)

    one, full = median_time(images[:1]), median_time(images)
    module.train()
    return {"latency_bs1_ms": 1000 * one, "batch_samples_per_sec": batch_size_of(batch) / full}


def _block(module, batch, steps, optimizer, scheduler, autocast=None) -> float:
    return statistics.median(plain_steps(module, batch, steps, optimizer, scheduler, autocast)[1:])


def _interleaved(off, on, rounds: int) -> float:
    """Median over rounds of off-time ÷ on-time, alternating which runs first."""
    ratios = []
    for r in range(rounds):
        if r % 2:
            b, a = on(), off()
        else:
            a, b = off(), on()
        ratios.append(a / b)
    return statistics.median(ratios)


def _set_layout(module, channels_last: bool) -> None:
    """Weights and the module's flag together (its forward converts the input to match)."""
    module.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    if "channels_last" in module.hparams:
        module.hparams.channels_last = channels_last


def _fit_rate(module, dm, workers: int, steps: int, precision: str) -> float:
    dm.hparams.num_workers = workers
    return fit_summary(module, dm, steps, precision).get("perf/samples_per_sec", float("nan"))


def _setup_seconds(dm, cache_off: bool) -> float:
    """Seconds of ``setup("fit")`` of a fresh copy of ``dm``, drawing ShapesWorld (``cache_off``) or reading it."""
    from datamodules.shapes.store import CACHE_ENV

    params = inspect.signature(type(dm)).parameters  # hparams also hold the CLI's _class_path
    fresh = type(dm)(**{k: v for k, v in dm.hparams.items() if k in params})
    with mock.patch.dict(os.environ, {CACHE_ENV: "off"} if cache_off else {}):
        t = time.perf_counter()
        fresh.setup("fit")
        return time.perf_counter() - t


def lever_ratios(module, batch, optimizer, scheduler, dm, precision: str, levers: list[str],
                 rounds: int, steps: int, fit_steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    images, *rest = batch
    if "channels_last" in levers:
        cl_batch = (images.contiguous(memory_format=torch.channels_last), *rest)
        initial = bool(getattr(module.hparams, "channels_last", False))

        def layout(channels_last: bool, data) -> float:
            _set_layout(module, channels_last)
            return _block(module, data, steps, optimizer, scheduler)

        out["channels_last"] = _interleaved(lambda: layout(False, batch), lambda: layout(True, cl_batch), rounds)
        _set_layout(module, initial)
    if "bf16" in levers:
        out["bf16_autocast"] = _interleaved(
            lambda: _block(module, batch, steps, optimizer, scheduler),
            lambda: _block(module, batch, 2, optimizer, scheduler, torch.bfloat16), max(1, rounds // 2))
    if "workers" in levers and hasattr(dm, "hparams") and "num_workers" in dm.hparams:
        before = dm.hparams.num_workers
        out["workers_1_vs_0"] = _interleaved(lambda: 1 / _fit_rate(module, dm, 0, fit_steps, precision),
                                             lambda: 1 / _fit_rate(module, dm, 1, fit_steps, precision),
                                             max(1, rounds // 3))
        dm.hparams.num_workers = before
    if "render_cache" in levers and hasattr(dm, "hparams"):  # bench's own setup already filled the cache
        out["render_cache"] = _interleaved(lambda: _setup_seconds(dm, True), lambda: _setup_seconds(dm, False),
                                           max(1, rounds // 2))
    if "compile" in levers:
        try:
            compiled = copy.deepcopy(module)
            compiled.net = torch.compile(compiled.net)
            opt = torch.optim.SGD(compiled.parameters(), lr=1e-4)
            _block(compiled, batch, 2, opt, None)  # compile outside the timing
            out["compile"] = _interleaved(lambda: _block(module, batch, steps, optimizer, scheduler),
                                          lambda: _block(compiled, batch, steps, opt, None), rounds)
        except Exception as e:  # noqa: BLE001 (report why, keep the other figures)
            out["compile"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
    return out
