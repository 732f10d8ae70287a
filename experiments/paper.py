"""A paper's reported number, as configs carry it (top-level ``paper:`` list) and reports read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PaperRef:
    """One reported result of a paper, tied to the metric name this repo logs.

    Args:
        metric: logged metric it compares to, e.g. ``test/acc1``.
        value: the reported value in the logged metric's units (accuracy in [0, 1]).
        dataset: dataset and split, e.g. ``ILSVRC-2012 val``.
        protocol: how it was measured (single crop, 10-crop, SVM on features, ...).
        source: paper, table/row (and reproduction repository if not the paper).
        url: link to the paper or reproduction.
    """

    metric: str
    value: float
    dataset: str
    protocol: str = ""
    source: str = ""
    url: str = ""
