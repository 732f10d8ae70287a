"""``paperlab report``: runs -> comparison table, CSV and plots (experiments.report.report)."""

from experiments.report.report import main

__all__ = ["main"]
