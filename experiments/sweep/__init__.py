"""``paperlab sweep``: a W&B-format sweep file run locally or by a W&B agent (experiments.sweep.sweep)."""

from experiments.sweep.sweep import main

__all__ = ["main"]
