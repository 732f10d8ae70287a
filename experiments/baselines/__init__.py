"""``paperlab baseline``: each family's trivial baselines on a config's data (experiments.baselines.baseline)."""

from experiments.baselines.baseline import main

__all__ = ["main"]
