"""What the runner calls a module's method and its headline metric, read from the class's hooks."""

from __future__ import annotations

from typing import Any

from contracts.hooks import hook


def own_hook(cls: type, name: str, default: Any = None) -> Any:
    """A hook declared in ``cls``'s own namespace (``vars(cls)``), not inherited from a parent.

    ``method_label`` is read so: Mask R-CNN's module extends Faster R-CNN's, and must not be
    labelled "Faster R-CNN" for it. ``hook`` is still called so that the name is checked
    against contracts/hooks.py.
    """
    hook(cls, name)  # refuses a name that is not a declared hook
    return vars(cls).get(name, default)


def method_meta(module: type, hparams: dict[str, Any]) -> dict[str, str]:
    """What a report calls a module's method and its headline metric, from the class.

    ``method_name(hparams)`` (a static method) names a module that runs several papers' methods
    (VideoModule's ``arch``, CaptioningModule's ``attention``); ``method_label`` is the paper's
    spelling of one method ("Faster R-CNN"), read from the class itself so that a subclass
    (Mask R-CNN's module extends Faster R-CNN's) is not named after its parent; ``primary_metric``
    is the number a report puts in its table. Without them: the class name, and the report's
    ``default_metric``.
    """
    namer = hook(module, "method_name")
    label = own_hook(module, "method_label") or module.__name__.removesuffix("Module")
    out = {"method": namer(hparams) if callable(namer) else label}
    primary = hook(module, "primary_metric")
    if isinstance(primary, str):
        out["primary_metric"] = primary
    return out
