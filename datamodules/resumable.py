"""A training loader whose every random draw is a function of (seed, epoch, sample), so a resumed run
sees exactly the batches and augmentations the uninterrupted run saw.

PyTorch's default shuffled loader draws its permutation and its workers' seeds from the global RNG,
which the model's own draws (init, dropout, noise) advance too: after a resume none of them are
where they were, so the data order and every augmentation from the restored step on differ
(issue #31: val/acc1 0.7167 resumed against 0.6800 uninterrupted). Here instead

* ``EpochSampler`` shuffles with ``seed + epoch`` (it is a ``DistributedSampler``, so under DDP
  Lightning keeps it and each rank takes its shard of the same permutation) and yields
  ``(index, sample_seed)`` keys;
* ``SeededSamples`` seeds torch, numpy and ``random`` from the key before reading the sample, and
  ``SeededCollate`` from the batch's keys before collating (batch-wise augmentation), so an
  augmentation depends on neither the worker that runs it, nor the number of workers, nor what ran
  before;
* ``ResumableLoader`` counts the batches it has handed out in the current epoch and gives
  ``state_dict``/``load_state_dict`` — the interface Lightning saves into checkpoints for
  mid-epoch resumption — so a run resumed from a step inside an epoch skips the batches it already
  trained on (their indices only: nothing is read or augmented for them).

The model's draws are the other half: ``experiments.resume.StepSeeds`` reseeds them per step.
This module is plain PyTorch (no Lightning import).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

_MASK = (1 << 63) - 1


def mix(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix64 steps): equal inputs give equal seeds in every process
    (Python's ``hash`` is salted per process), neighbouring inputs give unrelated ones."""
    z = 0x9E3779B97F4A7C15
    for p in parts:
        z = (z ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        z = (z ^ (z >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        z ^= z >> 29
    return z & _MASK


def run_seed() -> int:
    """The run's seed: the one ``seed_everything`` exported (``PL_GLOBAL_SEED``), else 0."""
    return int(os.environ.get("PL_GLOBAL_SEED", "0"))


def seed_all(seed: int, devices: bool = False) -> None:
    """Seed torch's CPU generator (and with ``devices`` every CUDA device's), numpy's global state and
    ``random`` from one integer. Not ``torch.manual_seed``: it costs ~0.2 ms a call looking for
    accelerators, ~80x the CPU generator's own seeding, and the data seeds every sample."""
    torch.default_generator.manual_seed(seed)
    if devices and torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    np.random.seed(seed % (1 << 32))
    random.seed(seed)


class EpochSampler(DistributedSampler):
    """Shuffles with ``seed + epoch`` and yields ``(index, mix(seed, epoch, index))`` keys.

    Outside a process group it is one replica (rank 0 of 1). ``skip`` leaves out the first indices
    of one epoch's permutation (a mid-epoch resume); ``set_epoch`` to another epoch cancels it.
    """

    def __init__(self, dataset: Dataset, seed: int, drop_last: bool = True, num_replicas: int | None = None,
                 rank: int | None = None) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if distributed else 1
        if rank is None:
            rank = dist.get_rank() if distributed else 0
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=drop_last)
        self._skip: tuple[int, int] | None = None  # (epoch, indices to leave out of it)

    def skip(self, epoch: int, count: int) -> None:
        self._skip = (epoch, count)

    def skipping(self) -> int:
        """How many indices the next iteration leaves out (0 unless a skip is set for this epoch)."""
        return self._skip[1] if self._skip is not None and self._skip[0] == self.epoch else 0

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        indices = list(super().__iter__())
        if self._skip is not None:
            epoch, count = self._skip
            self._skip = None
            if epoch == self.epoch:
                indices = indices[count:]
        return iter([(i, mix(self.seed, self.epoch, i)) for i in indices])


def _seeded(seed: int, fn: Callable[[], Any]) -> Any:
    """``fn()`` with the CPU's global RNGs seeded from ``seed``.

    The states are not put back (saving and restoring them costs ~0.5 ms a sample; seeding ~12 µs):
    in the main process the model's draws are reseeded before every training step
    (``experiments.resume.StepSeeds``), after the batch is read.
    """
    seed_all(seed)
    return fn()


class SeededSamples(Dataset):
    """For a key ``(index, seed)``: ``(seed, dataset[index])``, read with the global RNGs seeded from
    ``seed`` (the per-sample transforms' draws)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> tuple[int, Any]:
        index, seed = key
        return seed, _seeded(seed, lambda: self.dataset[index])


class SeededCollate:
    """The collate of ``SeededSamples``' pairs: ``collate`` on the samples, with the global RNGs seeded
    from the batch's sample seeds (the batch-wise transforms' draws, e.g. a vectorised flip)."""

    def __init__(self, collate: Callable[[list], Any] | None) -> None:
        self.collate = collate or default_collate

    def __call__(self, items: list[tuple[int, Any]]) -> Any:
        seeds = [seed for seed, _ in items]
        samples = [sample for _, sample in items]
        return _seeded(mix(len(seeds), *seeds[:4]), lambda: self.collate(samples))


class _Counted:
    """The loader's iterator, created at the first ``next`` (after Lightning has set the sampler's
    epoch, which a worker pool would otherwise read too early), counting the batches handed out."""

    def __init__(self, loader: ResumableLoader) -> None:
        self.loader, self.it = loader, None

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        if self.it is None:
            self.loader.batches_done = self.loader.sampler.skipping() // self.loader.batch_size
            self.it = DataLoader.__iter__(self.loader)
        batch = next(self.it)
        self.loader.batches_done += 1
        return batch


class ResumableLoader(DataLoader):
    """A training loader over ``SeededSamples`` and an ``EpochSampler``, with the state Lightning
    stores in checkpoints: ``{"epoch", "batches"}`` handed out in that epoch."""

    def __init__(self, dataset: Dataset, *, batch_size: int, seed: int | None = None, drop_last: bool = True,
                 **kwargs: Any) -> None:
        # Lightning may re-create the loader from these arguments: unwrap what we wrapped.
        base = dataset.dataset if isinstance(dataset, SeededSamples) else dataset
        collate = kwargs.pop("collate_fn", None)
        collate = collate.collate if isinstance(collate, SeededCollate) else collate
        kwargs.pop("sampler", None)
        kwargs.pop("shuffle", None)
        self.seed = run_seed() if seed is None else seed
        # The worker base seed comes from here, not from the global RNG the model draws from.
        kwargs.setdefault("generator", torch.Generator().manual_seed(self.seed))
        super().__init__(SeededSamples(base), batch_size=batch_size, drop_last=drop_last,
                         sampler=EpochSampler(base, self.seed, drop_last=drop_last),
                         collate_fn=SeededCollate(collate), **kwargs)
        self.batches_done = 0

    def __iter__(self) -> _Counted:  # type: ignore[override]
        return _Counted(self)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler.epoch, "batches": self.batches_done, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the epoch the state was taken in after its ``batches``; an epoch whose batches
        were all handed out is over, so the next one starts from its beginning."""
        sampler: EpochSampler = self.sampler  # type: ignore[assignment]
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"the checkpoint's data order was drawn with seed {state['seed']}, "
                             f"this run's seed is {self.seed}")
        epoch, done = int(state["epoch"]), int(state["batches"])
        if done >= len(self):
            sampler.set_epoch(epoch + 1)
        else:
            sampler.set_epoch(epoch)
            sampler.skip(epoch, done * self.batch_size)  # type: ignore[operator]
