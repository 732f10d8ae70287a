"""A reproduce step's measurement kept as JSON in the runs folder, so a later ``--only`` can still put it on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def cached_result(path: Path, compute: bool, measure: Callable[[], dict | None]) -> dict | None:
    """``measure()`` written to ``path`` when ``compute`` (and it returns something); then what ``path`` holds."""
    if compute and (result := measure()) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
    return json.loads(path.read_text()) if path.exists() else None
