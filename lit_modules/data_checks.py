"""The check every family makes at setup: the model's sizes agree with the data's."""

from __future__ import annotations

from typing import Any

from contracts.errors import ConfigError
from contracts.hooks import hook


def datamodule_of(module: Any) -> Any:
    """The trainer's datamodule, or None outside a Trainer (tests, notebooks)."""
    trainer = getattr(module, "_trainer", None)
    return getattr(trainer, "datamodule", None) if trainer is not None else None


def check_matches_data(module: Any, attr: str = "num_classes", what: str = "classes") -> None:
    """Raise ``ConfigError`` when ``module.hparams[attr]`` differs from the datamodule's ``attr``.

    Args:
        module: a LightningModule whose hyper-parameters hold ``attr``.
        attr: the size both sides declare (``num_classes``, ``num_joints``).
        what: the unit in the message ("classes", "joints").
    """
    dm = datamodule_of(module)
    theirs, mine = getattr(dm, attr, None), module.hparams[attr]
    if theirs is not None and theirs != mine:
        describe = hook(dm, "describe")
        where = f" ({describe()})" if callable(describe) else ""
        raise ConfigError(f"model.init_args.{attr}={mine} but the data{where} has {theirs} {what}; "
                          f"set --model.init_args.{attr} {theirs}")
