"""Model, datamodule and precision from the config files ``paperlab fit`` takes, without a run.

The tools (bench, baseline) build exactly what ``fit`` would train, so that their figures are
about the same model and data.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch

from contracts.errors import ConfigError
from experiments.cli import PaperlabCLI


def build(configs: list[str], overrides: list[str]) -> tuple[L.LightningModule, L.LightningDataModule, str]:
    """Model, datamodule and precision from the same config files ``paperlab fit`` takes.

    Args:
        configs: config files, composed left to right as ``--config`` arguments.
        overrides: further ``--key value`` arguments, as on the ``fit`` command line.
    """
    args = [a for c in configs for a in ("--config", c)] + ["--trainer.logger", "false", *overrides]
    argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when it sees both args and argv
    try:
        cli = PaperlabCLI(args=args, run=False)
    finally:
        sys.argv = argv
    return cli.model, cli.datamodule, str(cli.trainer.precision)


def load_weights(module: L.LightningModule, ckpt_path: str | Path,
                 ignore: Callable[[str], bool] = lambda key: False,
                 check: Callable[[dict], None] | None = None) -> dict:
    """Load a Lightning checkpoint's weights into ``module`` built from the config; returns the checkpoint.

    The module's ``on_load_checkpoint`` runs first (the captioner rebuilds its vocabulary's net there).
    A missing file, an unreadable one, or keys that do not fit (other than those ``ignore`` accepts)
    are the user's ``ConfigError``, naming the file; ``check(state_dict)`` may refuse it first with
    a more precise one.
    """
    path = Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"--ckpt_path {ckpt_path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ConfigError(f"--ckpt_path {ckpt_path} is not a readable checkpoint: {e}") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"--ckpt_path {ckpt_path} holds no state_dict (not a Lightning checkpoint)")
    if check is not None:
        check(ckpt["state_dict"])
    module.on_load_checkpoint(ckpt)
    missing, unexpected = module.load_state_dict(ckpt["state_dict"], strict=False)
    other = [k for k in [*missing, *unexpected] if not ignore(k)]
    if other:
        raise ConfigError(f"--ckpt_path {ckpt_path} does not fit {type(module).__name__} of the config: {other[:4]}")
    return ckpt
