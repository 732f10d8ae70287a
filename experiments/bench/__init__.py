"""``paperlab bench``: Lightning's overhead, data wait, MFU and levers (experiments.bench.bench),
batch-1 latency of one or more models (``--mode latency``, experiments.bench.latency), or the
detection family's speed table per stage (``--mode det_speed``, experiments.bench.det_speed)."""

from experiments.bench.bench import main

__all__ = ["main"]
