"""The ``data:`` section of config files, composed as ``paperlab fit`` composes them, without building a model.

check-data must not build the model: a paper config's pretrained weights may not be on this
machine yet, and the check is for the data alone.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from contracts.errors import ConfigError

PREFIX = "--data.init_args."


def data_section(configs: list[str], overrides: list[str]) -> tuple[str, dict[str, Any]]:
    """``(class_path, init_args)`` of the configs' ``data:``, later files and ``--data.init_args.KEY VALUE`` winning."""
    class_path, init_args = None, {}
    for c in configs:
        if not Path(c).is_file():
            raise ConfigError(f"--config {c}: no such file")
        data = (yaml.safe_load(Path(c).read_text()) or {}).get("data") or {}
        if data.get("class_path") and data["class_path"] != class_path:
            class_path, init_args = data["class_path"], {}
        init_args.update(data.get("init_args") or {})
    args = iter(overrides)
    for a in args:
        if not a.startswith(PREFIX):
            raise ConfigError(f"check-data takes only {PREFIX}KEY VALUE overrides, not {a!r}")
        key, _, value = a.removeprefix(PREFIX).partition("=")
        init_args[key] = yaml.safe_load(value if _ else next(args, ""))
    if class_path is None:
        raise ConfigError(f"{', '.join(configs)}: no data.class_path")
    return class_path, init_args


def datamodule_class(class_path: str) -> type:
    module, name = class_path.rsplit(".", 1)
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"data.class_path {class_path!r} cannot be imported ({e})") from None
