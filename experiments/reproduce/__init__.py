"""``paperlab reproduce``: every demo, its trivial baseline and every ablation -> docs/RESULTS.md."""

from experiments.reproduce.reproduce import main

__all__ = ["main"]
