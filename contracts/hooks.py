"""The optional hooks the runner (``experiments``) looks for on a method's classes, written once.

A LightningModule or LightningDataModule works with ``paperlab`` without any of them; each one a
class defines improves what the runner reports. They are read only through ``hook`` below, which
refuses a name that is not declared here, so this file stays the complete list.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class ModuleHooks(Protocol):
    """Optional attributes of a method's LightningModule class."""

    primary_metric: str
    """The metric a report puts in its table and a sweep ranks by, e.g. ``"val/acc1"``."""

    method_label: str
    """The report's Method column when the class name is not it (``"Mask R-CNN"``). Read from the
    class's own namespace only, so a subclass is not named after its parent."""

    @staticmethod
    def method_name(hparams: dict[str, Any]) -> str:
        """The Method column from the run's hyper-parameters, for a module that runs several
        papers' methods (``VideoModule``'s ``arch``, ``CaptioningModule``'s ``attention``)."""

    def flops_input(self, batch: Any) -> Tensor:
        """One sample of ``batch`` in the shape ``forward`` takes, for FLOPs and MFU (default:
        ``batch[0][:1]``)."""

    def wandb_media(self, batch: Any, outputs: Any, n: int = 16) -> dict[str, Any]:
        """W&B media for the first validation batch of an epoch: ``{key: wandb.Image|Table}``."""


@runtime_checkable
class DataHooks(Protocol):
    """Optional attributes of a family's LightningDataModule class."""

    @classmethod
    def check_data(cls, **init_args: Any) -> None:
        """Called with the config's ``data.init_args`` before any class is built: raise
        ``DatasetError`` naming the expected on-disk layout and where to get the data."""

    def describe(self) -> str:
        """One phrase naming the data in error messages (``"cifar10 at /data/cifar"``)."""

    dataset_name: str
    """The dataset column of a report (``"ShapesWorld"``, ``"CIFAR-10"``): ShapesWorld results are
    never presented as a paper dataset."""

    class_names: list[str] | None
    """Class names for media and reports, index = label id."""

    num_classes: int | None
    """Classes in the data; modules check their ``num_classes`` against it at setup."""

    skipped_files: list[str]
    """``"path: reason"`` for each unreadable file a source dropped (``bad_images: skip``); the
    runner lists them in ``results.json`` under ``meta``."""


HOOKS = {
    name: proto
    for proto in (ModuleHooks, DataHooks)
    for name in (*proto.__annotations__, *(k for k in vars(proto) if not k.startswith("_")))
}


def hook(obj: Any, name: str, default: Any = None) -> Any:
    """``getattr(obj, name, default)`` for a hook declared in this module (a typo raises here)."""
    if name not in HOOKS:
        raise AttributeError(f"{name!r} is not a runner hook; the hooks are declared in contracts/hooks.py: "
                             f"{', '.join(sorted(HOOKS))}")
    return getattr(obj, name, default)
