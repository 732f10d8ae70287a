"""The detection family's speed table (``paperlab bench --mode det_speed``) as a reproduce step.

``det_speed.measure`` over ``det_speed.ROWS`` with the demo runs of this reproduce's runs folder:
test time per image at batch 1 split into proposals / features / head, training time per image,
each demo's val/map50 and val/map, and the papers' ratios beside the measured ones. Cached in
``<runs>/det_speed.json``; the page is written from the cache when the step is not selected.
"""

from __future__ import annotations

import json
from pathlib import Path

from experiments.bench.det_speed import measure

STEP = "det_speed"  # the name --only matches


def det_result(runs: Path, root: Path, compute: bool) -> dict | None:
    """The cached measurement in ``runs/det_speed.json``; measured again when ``compute``.

    Args:
        root: the folder holding ``configs/`` (the rows' configs are relative to it).
    """
    path = runs / "det_speed.json"
    if compute and (result := measure(root, runs)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
    return json.loads(path.read_text()) if path.exists() else None
