"""One place for how every family's datamodule turns a Dataset into a DataLoader.

Speed defaults live here so that they are the same everywhere: persistent workers (no
re-spawn each epoch), a worker count that fits the cores (one core stays with the trainer),
no workers at all for in-memory data (ShapesWorld caches, where worker IPC only costs time),
and pinned memory only when a GPU is there to receive it. Training loaders are
``datamodules.resumable.ResumableLoader``: data order and augmentation are functions of the
run's seed, the epoch and the sample, so a resumed run continues the uninterrupted one.
Evaluation loaders under a process group read each sample on exactly one rank (``EvalShards``):
Lightning's own distributed sampler pads the last shard with repeated samples, which a metric
summed over ranks counts twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from datamodules.resumable import ResumableLoader


def auto_workers(requested: int, in_memory: bool) -> int:
    """`requested` if ≥ 0; otherwise 0 for in-memory data, else cores − 1 (1..8)."""
    if requested >= 0:
        return requested
    return 0 if in_memory else max(1, min(8, (os.cpu_count() or 2) - 1))


class EvalShards(DistributedSampler):
    """Rank r of W reads samples r, r + W, r + 2W, ... in order: every sample once, no padding, so
    the shards may differ by one sample. It is a ``DistributedSampler``, so Lightning keeps it
    instead of putting its padding one in place (``use_distributed_sampler``)."""

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.indices = list(range(self.rank, len(dataset), self.num_replicas))  # type: ignore[arg-type]
        self.num_samples = len(self.indices)

    def __iter__(self):  # type: ignore[override]
        return iter(self.indices)

    def __len__(self) -> int:
        return self.num_samples


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def make_loader(
    ds: Dataset,
    *,
    train: bool,
    batch_size: int,
    eval_batch_size: int | None = None,
    num_workers: int = -1,
    in_memory: bool = False,
    collate_fn: Callable[[list], Any] | None = None,
    exact_eval: bool = True,
) -> DataLoader:
    """A shuffled (seed, epoch)-ordered, drop-last resumable loader for training; an ordered full one
    for evaluation, each sample on one rank (``EvalShards``) unless ``exact_eval`` is off: FSDP needs
    as many batches on every rank, so there Lightning's padding sampler stays (a split that does not
    divide by the world size then counts up to W - 1 samples twice)."""
    workers = auto_workers(num_workers, in_memory)
    common: dict[str, Any] = {"num_workers": workers, "persistent_workers": workers > 0,
                              "pin_memory": torch.cuda.is_available(), "collate_fn": collate_fn}
    if train:
        return ResumableLoader(ds, batch_size=batch_size, drop_last=True, **common)
    # Lightning asks for the evaluation loaders once the process group exists.
    sampler = EvalShards(ds) if exact_eval and _distributed() else None
    return DataLoader(ds, batch_size=eval_batch_size or batch_size, shuffle=False, drop_last=False,
                      sampler=sampler, **common)


class SplitLoaders:
    """Lightning's four loader hooks over `self._train`, `self._val` and `self._test`.

    A datamodule mixes this in and writes only `_loader(ds, train) -> DataLoader`;
    `_test` may be absent or None (then test and predict use the validation split).
    """

    def _loader(self, ds: Dataset, train: bool) -> DataLoader:
        raise NotImplementedError

    def _test_split(self) -> Dataset:
        test = getattr(self, "_test", None)
        return self._val if test is None else test

    def train_dataloader(self) -> DataLoader:
        return self._loader(self._train, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._val, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._test_split(), False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self._val, False)
