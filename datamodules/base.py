"""The skeleton every family's datamodule shares, written once.

A family datamodule (classification, detection, ...) keeps only what is its own: its sources
(``_raw``), its per-sample transforms (``_transform``), its collate (``collate_fn``) and the
source check (``_check_source``). This base holds the rest, identical in every family:

* ``check_data(**init_args)``: the CLI calls it with ``data.init_args`` before any model is
  built; ShapesWorld is generated, so only on-disk sources are checked (``DatasetError``
  naming the expected layout).
* ``describe()`` and ``dataset_name`` for reports (ShapesWorld is never named as a paper's dataset).
* ``setup``: train, val and test splits built lazily, each once (``_split``).
* the loaders: ``datamodules.loaders.make_loader`` (persistent workers, worker count,
  no workers for in-memory data, pinned memory with a GPU).

Subclasses call ``super().__init__()`` and then ``self.save_hyperparameters()`` in their own
``__init__``: Lightning reads the hyperparameters from the frame of the ``__init__`` that
declares them, and LightningCLI reads the ``Args`` docstring of that same class.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from datamodules.loaders import SplitLoaders, make_loader
from datamodules.shapes.store import render_columns
from datamodules.transforms import IMAGENET_MEAN, IMAGENET_STD

Split = Literal["train", "val", "test"]
Stats = tuple[tuple[float, ...], tuple[float, ...]]
# ShapesWorld pixels are roughly uniform: every family normalises them alike, so checkpoints transfer.
SHAPES_STATS: Stats = ((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


class Mapped(Dataset):
    """A dataset whose samples pass through a transform on the way out.

    Args:
        base: the dataset read from (kept as ``.base`` for ``class_names`` and tests).
        transform: ``on="sample"``: called as ``transform(*sample)`` and returns the new sample;
            ``on="image"``: called on the sample's first field only, the others pass unchanged.
        on: which part of the sample the transform sees.
    """

    def __init__(self, base: Dataset, transform: Callable[..., Any],
                 on: Literal["sample", "image"] = "sample") -> None:
        self.base, self.transform, self.on = base, transform, on

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        sample = self.base[i]
        if self.on == "image":
            return (self.transform(sample[0]), *sample[1:])
        return self.transform(*sample)


def rendered_pairs(view: Dataset) -> TensorDataset:
    """A ShapesWorld ``(image, label)`` view rendered once (or read from the render cache).

    The view is deterministic, so this serves the very samples rendering on the fly would.

    Returns:
        ``TensorDataset`` of uint8 images ``(N, 3, H, W)`` and int64 labels ``(N,)``, with the
        view's ``num_classes``.
    """
    images, labels = render_columns(view)  # (N, 3, H, W) uint8, N ints
    ds = TensorDataset(images, torch.tensor(labels, dtype=torch.long))
    ds.num_classes = view.num_classes  # type: ignore[attr-defined]
    return ds


def source_classes(*datasets: Dataset | None) -> list[str] | None:
    """The class names of the first set-up split whose source lists them (a ``Mapped`` is looked through)."""
    for ds in datasets:
        if ds is not None:
            names = getattr(getattr(ds, "base", ds), "classes", None)
            return list(names or []) or None
    return None


class FamilyDataModule(SplitLoaders, L.LightningDataModule):
    """Base of the family datamodules: source check, report names, lazy splits, loaders.

    Every subclass's ``__init__`` takes ``source`` ("shapes" or an on-disk dataset), ``root``,
    ``batch_size``, ``eval_batch_size`` and ``num_workers``; the base reads them from
    ``self.hparams``.

    Override points (all optional but ``_raw`` or ``_split``):

    * ``_check_source(source, root, **init_args)``: raise ``DatasetError`` naming the layout.
    * ``_raw(train)``: the family's source of a split, as read.
    * ``_transform(train)``: the per-sample transform (``None``: serve ``_raw`` unchanged).
    * ``_split(split)``: the dataset a loader serves (default: ``_raw`` through ``_transform``
      for train/val, ``None`` for test, which then serves the validation split).
    * ``collate_fn(ds, train)``: the loader's collate (``None``: PyTorch's default).
    * ``_in_memory()``: whether the data sits in memory (then ``num_workers=-1`` means none).
    * class attributes ``dataset_names``, ``shapes_description``, ``disk_stats``,
      ``source_stats``, ``test_stages``.
    """

    #: report names by source; a source not listed is named after its root folder.
    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld"}
    #: ``describe()`` of the ShapesWorld source; ``{name}`` fields are filled from the hyperparameters.
    shapes_description: ClassVar[str] = "ShapesWorld"
    #: normalisation of on-disk sources without their own entry in ``source_stats``.
    disk_stats: ClassVar[Stats] = (IMAGENET_MEAN, IMAGENET_STD)
    #: normalisation of particular sources (e.g. CIFAR's own statistics).
    source_stats: ClassVar[dict[str, Stats]] = {}
    #: setup stages that build the test split (captioning builds it for "test" only).
    test_stages: ClassVar[tuple[str, ...]] = ("fit", "validate", "test", "predict")

    def __init__(self) -> None:
        super().__init__()
        self._train: Dataset | None = None
        self._val: Dataset | None = None
        self._test: Dataset | None = None

    @classmethod
    def check_data(cls, source: str = "shapes", root: Any = None, **init_args: Any) -> None:
        """Called by the CLI with ``data.init_args`` before any model is built (see ``experiments.cli``).

        Raises:
            DatasetError: an on-disk dataset is not where ``root`` says; the message shows the
                expected layout. ShapesWorld is generated: nothing to check.
        """
        if source != "shapes":
            cls._check_source(source, root, **init_args)

    @classmethod
    def _check_source(cls, source: str, root: Any, **init_args: Any) -> None:
        """Raise ``DatasetError`` naming the expected layout when ``source`` is not under ``root``."""

    @property
    def skipped_files(self) -> list[str]:
        """``"path: reason"`` of every image file ``bad_images="skip"`` dropped from the set-up splits."""
        sources = {id(src): src for src in (getattr(ds, "base", ds) for ds in (self._train, self._val))
                   if src is not None}  # test serves the validation source: count it once
        return [f for src in sources.values() for f in getattr(src, "skipped_files", [])]

    def describe(self) -> str:
        """One line for logs and reports: which data this run reads."""
        h = self.hparams
        return self.shapes_description.format(**h) if h.source == "shapes" else f"{h.source} at {h.root}"

    @property
    def dataset_name(self) -> str:
        """Name used in reports; ShapesWorld results are never presented as a paper dataset."""
        h = self.hparams
        return self.dataset_names.get(h.source) or Path(h.root or "").name or h.source

    def _stats(self) -> Stats:
        """Per-channel mean and std (pixels in [0, 1]) the current source is normalised with."""
        source = self.hparams.source
        if source == "shapes":
            return SHAPES_STATS
        return self.source_stats.get(source, self.disk_stats)

    def _raw(self, train: bool) -> Dataset:
        """The family's source of the training (``train``) or validation split, as read."""
        raise NotImplementedError

    def _transform(self, train: bool) -> Callable[..., Any] | None:
        """The per-sample transform of a split, called as ``transform(*sample)``; None for none."""
        return None

    def _split(self, split: Split) -> Dataset | None:
        """The dataset the loader of ``split`` serves; ``None`` for "test" serves the validation split."""
        if split == "test":
            return None
        train = split == "train"
        raw, transform = self._raw(train), self._transform(train)
        return raw if transform is None else Mapped(raw, transform)

    def setup(self, stage: str) -> None:
        """Build the splits ``stage`` needs, each once (Lightning calls this per stage)."""
        if stage == "fit" and self._train is None:
            self._train = self._split("train")
        if self._val is None:
            self._val = self._split("val")
        if self._test is None and stage in self.test_stages:
            self._test = self._split("test")

    def collate_fn(self, ds: Dataset, train: bool) -> Callable[[list], Any] | None:
        """The collate of the loader over ``ds``; None for PyTorch's default."""
        return None

    def _in_memory(self) -> bool:
        """Whether the data sits in memory (ShapesWorld renders into it): loader workers would only cost IPC."""
        return self.hparams.source == "shapes"

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        h = self.hparams
        return make_loader(ds, train=train, batch_size=h.batch_size, eval_batch_size=h.eval_batch_size,
                           num_workers=h.num_workers, in_memory=self._in_memory(),
                           collate_fn=self.collate_fn(ds, train), exact_eval=not self._lockstep_eval())

    def _lockstep_eval(self) -> bool:
        """FSDP gathers parameters in every forward: all ranks must run the same number of evaluation
        batches, which unpadded shards do not guarantee (see ``make_loader``)."""
        from lightning.pytorch.strategies import FSDPStrategy

        return isinstance(getattr(self.trainer, "strategy", None), FSDPStrategy)
