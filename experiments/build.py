"""Model, datamodule and precision from the config files ``paperlab fit`` takes, without a run.

The tools (bench, baseline) build exactly what ``fit`` would train, so that their figures are
about the same model and data.
"""

from __future__ import annotations

import sys

import lightning as L

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
