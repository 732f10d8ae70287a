"""``python -m experiments.report.filter_spectrum RUN_FOLDER...``: conv1's high-frequency share per run.

Reads each run's ``checkpoints/last.ckpt`` and prints ``lit_modules.zfnet.high_frequency_share`` of its first
conv layer (``net.features.0.weight``: AlexNet and ZFNet), for runs made before the share was logged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from lit_modules.zfnet import high_frequency_share


def main(argv: list[str]) -> None:
    for run in map(Path, argv):
        state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
        print(f"{run}: conv1 high-frequency share {high_frequency_share(state['net.features.0.weight']):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
