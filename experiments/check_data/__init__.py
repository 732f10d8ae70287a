"""``paperlab check-data --config FILE``: read every sample of a dataset before a long run (experiments.check_data.check_data)."""

from experiments.check_data.check_data import main

__all__ = ["main"]
