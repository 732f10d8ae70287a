"""``paperlab check-data --config FILE``: read every sample of every split before a long run.

Builds only the config's datamodule (``data:`` and ``--data.init_args.KEY VALUE``), with
``bad_images: error`` so nothing is skipped, and reads every sample of its train and val
sources (and test, where the datamodule has a test source of its own: ``_raw_test``) through a
DataLoader with ``--workers`` processes. Lists every problem, one line each: unreadable images
(truncated, not an image, missing), bad annotations (malformed XML/json entries, masks that do
not fit their image or hold unknown classes), a split that cannot be built (a missing split
list, class folders that differ from train's, empty class folders) and files in class folders
that the loader ignores.
Exit code 2 and a last line ``paperlab: error: ...`` with the counts when there is any, 0 when clean.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from collections import Counter
from pathlib import Path

from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder

from contracts.errors import DatasetError
from experiments.check_data.data_config import data_section, datamodule_class

Problem = tuple[str, str, str]  # (split, kind, message)


class Probe(Dataset):
    """``ds[i]`` read and thrown away: ``None`` when it reads, else ``(kind, one-line message)``."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[str, str] | None:
        try:
            self.ds[i]
        except Exception as e:  # noqa: BLE001 (every failure is a finding, the check goes on)
            return kind_of(e), f"sample {i}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
        return None


def kind_of(e: Exception) -> str:
    text = str(e)
    if isinstance(e, DatasetError) and ("cannot be read as an image" in text or "image file is missing" in text):
        return "unreadable image"
    return "bad annotation" if isinstance(e, DatasetError) else f"error ({type(e).__name__})"


def _keep(batch: list) -> list:
    return [x for x in batch if x is not None]


def ignored_files(ds: ImageFolder) -> list[str]:
    """Files under an ImageFolder's class folders that it does not load (not an image extension)."""
    loaded = {p for p, _ in ds.samples}
    return sorted(str(p) for p in Path(ds.root).rglob("*") if p.is_file() and str(p) not in loaded)


def check_split(ds: Dataset, split: str, workers: int) -> tuple[int, list[Problem]]:
    problems: list[Problem] = []
    if isinstance(ds, ImageFolder):
        problems += [(split, "non-image file", f"{p}: not an image file (the loader ignores it)")
                     for p in ignored_files(ds)]
    loader = DataLoader(Probe(ds), batch_size=32, num_workers=workers, collate_fn=_keep)
    for found in loader:
        problems += [(split, kind, msg) for kind, msg in found]
    return len(ds), problems  # type: ignore[arg-type]


def run(configs: list[str], overrides: list[str], workers: int) -> tuple[int, list[Problem]]:
    """Samples read and the problems found in the train and val sources of the config's data."""
    class_path, init_args = data_section(configs, overrides)
    cls = datamodule_class(class_path)
    if init_args.get("source", "shapes") == "shapes":
        print("check-data: ShapesWorld is generated, nothing on disk to check")
        return 0, []
    cls.check_data(**init_args)  # a missing dataset: one DatasetError with the expected layout
    if "bad_images" in inspect.signature(cls).parameters:
        init_args["bad_images"] = "error"  # list the bad files instead of skipping them
    dm = cls(**init_args)
    total, problems = 0, []
    builders = {"train": lambda: dm._raw(True), "val": lambda: dm._raw(False),
                "test": getattr(dm, "_raw_test", lambda: None)}  # a labelled test split of its own (CamVid)
    for split, build in builders.items():
        try:
            ds = build()
        except DatasetError as e:  # e.g. class folders that differ from train's, a missing split list
            problems.append((split, "split", str(e).splitlines()[0]))
            continue
        if ds is None:
            continue
        n, found = check_split(ds, split, workers)
        print(f"check-data: {split}: {n} samples read, {len(found)} problem(s)", flush=True)
        total, problems = total + n, problems + found
    return total, problems


def main(argv: list[str]) -> None:
    """``paperlab check-data``: see the module docstring."""
    p = argparse.ArgumentParser(prog="paperlab check-data", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                   help="loader processes reading samples in parallel (0: in this process)")
    args, overrides = p.parse_known_args(argv)
    total, problems = run(args.config, overrides, args.workers)
    for split, kind, msg in problems:
        print(f"  {split}: {kind}: {msg}")
    if problems:
        counts = Counter(kind for _, kind, _ in problems)
        print(f"paperlab: error: check-data: {len(problems)} problem(s) in {total} samples read: "
              + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())), file=sys.stderr)
        sys.exit(2)
    print(f"check-data: clean, {total} samples read")
