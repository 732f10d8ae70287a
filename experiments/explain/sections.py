"""``SECTIONS``: each ``paperlab explain --method`` name and the part that runs it. Every part
takes the shared ``Context``, writes its PNGs and returns its figures for the JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experiments.explain.attributions import METHODS
from experiments.explain.context import NO_MASKS, Context
from experiments.explain.parts_features import embed, neighbours
from experiments.explain.parts_images import (
    adversarial,
    classviz,
    deepdream,
    filters,
    fooling,
    inversion,
    patches,
)
from experiments.explain.parts_maps import attribution, baselines, occlusion_drop

__all__ = ["NO_MASKS", "SECTIONS", "Context", "baselines"]

SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    **{name: attribution(name) for name in METHODS},
    "occlusion_drop": occlusion_drop, "adversarial": adversarial, "fooling": fooling,
    "classviz": classviz, "inversion": inversion, "deepdream": deepdream, "embedding": embed,
    "filters": filters, "patches": patches, "neighbours": neighbours,
}
