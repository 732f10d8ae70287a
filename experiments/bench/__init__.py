"""``paperlab bench``: Lightning's overhead, data wait, MFU and levers (experiments.bench.bench), or
batch-1 latency of one or more models (``--mode latency``, experiments.bench.latency)."""

from experiments.bench.bench import main

__all__ = ["main"]
