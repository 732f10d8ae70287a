"""Wall-clock time per named stage of a detector's test-time pass (``detect_stages``).

A detection module may define ``detect_stages(images) -> (predictions, seconds)`` with seconds
under "proposals", "features" and "head": the split of the detection speed table
(``experiments.bench.det_speed``). This is the timer those methods share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

STAGES = ("proposals", "features", "head")


class Stopwatch:
    """Seconds summed per stage name; every name given at construction starts at 0."""

    def __init__(self, *names: str) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(names or STAGES, 0.0)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
