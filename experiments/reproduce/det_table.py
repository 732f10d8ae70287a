"""The detection family's speed table (``paperlab bench --mode det_speed``) as a reproduce step.

``det_speed.measure`` over ``det_speed.ROWS`` with the demo runs of this reproduce's runs folder:
test time per image at batch 1 split into proposals / features / head, training time per image,
each demo's val/map50 and val/map, and the papers' ratios beside the measured ones. Cached in
``<runs>/det_speed.json``; the page is written from the cache when the step is not selected.
"""

from __future__ import annotations

from pathlib import Path

from experiments.bench.det_speed import measure
from experiments.reproduce.cached import cached_result

STEP = "det_speed"  # the name --only matches


def det_result(runs: Path, root: Path, compute: bool) -> dict | None:
    """The cached measurement in ``runs/det_speed.json``; measured again when ``compute``.

    Args:
        root: the folder holding ``configs/`` (the rows' configs are relative to it).
    """
    return cached_result(runs / "det_speed.json", compute, lambda: measure(root, runs))
