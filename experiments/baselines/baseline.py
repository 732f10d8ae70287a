"""``paperlab baseline --config FILE``: what a trivial model scores on a config's data.

The family's trivial baselines, picked from the config's datamodule class: classification
(majority class, linear model on pixels), detection (one full-image or centred median-size box
per class), localisation (majority class, centred median-size box), segmentation (all background,
per-pixel linear on RGB), pose (mean pose), self-supervised (majority class and linear on pixels for
the probe), video (majority class), generation (the untrained generator's FID/KID), captioning (the
most frequent training caption for every image). A demo's number means something only next to
these: the gap is what the method adds.

``paperlab baseline gan-features --out FILE`` trains the ShapesWorld feature classifier of the
GAN family's FID/KID instead (``experiments.baselines.gan_features``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType

import lightning as L

from datamodules.captioning import CaptioningDataModule
from datamodules.classification import ClassificationDataModule
from datamodules.detection import DetectionDataModule
from datamodules.domain_adaptation import DomainAdaptationDataModule
from datamodules.generation import GenerationDataModule
from datamodules.localisation import LocalisationDataModule
from datamodules.pose import PoseDataModule
from datamodules.segmentation import SegmentationDataModule
from datamodules.ssl import SSLDataModule
from datamodules.video import VideoDataModule
from experiments.baselines import (
    captioning,
    classification,
    detection,
    domain_adaptation,
    gan_features,
    generation,
    localisation,
    pose,
    segmentation,
    ssl,
    video,
)
from experiments.build import build

Scores = dict[str, dict[str, float]]  # baseline name -> metric name -> value


def family_of(dm: L.LightningDataModule) -> ModuleType | None:
    """The module with ``trivial_scores`` and ``OVERRIDES`` for the family of ``dm``, else None.

    By the datamodule's class: it fixes what a batch holds, hence what a trivial model can be.
    """
    families = ((ClassificationDataModule, classification), (LocalisationDataModule, localisation),
                (DetectionDataModule, detection),  # after its subclass LocalisationDataModule
                (SegmentationDataModule, segmentation), (PoseDataModule, pose), (SSLDataModule, ssl),
                (VideoDataModule, video), (GenerationDataModule, generation),
                (CaptioningDataModule, captioning), (DomainAdaptationDataModule, domain_adaptation))
    return next((family for cls, family in families if isinstance(dm, cls)), None)


def baseline_scores(configs: list[str], overrides: list[str]) -> tuple[str | None, Scores]:
    """The family's name and its trivial baselines' scores on the data of ``configs``."""
    model, dm, _ = build(configs, overrides)
    family = family_of(dm)
    if family is None:
        return None, {}
    if family.OVERRIDES:  # e.g. un-augmented images for a pixel model: build the data again
        model, dm, _ = build(configs, [*family.OVERRIDES, *overrides])
    return family.__name__.rsplit(".", 1)[-1], family.trivial_scores(model, dm)


def main(argv: list[str]) -> None:
    """``paperlab baseline``: see the module docstring."""
    if argv[:1] == ["gan-features"]:
        gan_features.main(argv[1:])
        return
    p = argparse.ArgumentParser(prog="paperlab baseline", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n")[2])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, overrides = p.parse_known_args(argv)
    family, scores = baseline_scores(args.config, overrides)
    if family is None:
        print("no trivial baseline for this config's data family")
    for name, metrics in scores.items():
        print(f"{name} ({family}):")
        for k, v in metrics.items():
            print(f"  {k:16s} {v:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"config": args.config, "family": family, "scores": scores}, indent=2))
