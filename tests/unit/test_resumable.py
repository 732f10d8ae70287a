"""The resumable training loader and the resume helpers (issue #31)."""

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from contracts.errors import ConfigError
from datamodules.resumable import EpochSampler, ResumableLoader, mix
from experiments.resume import StepSeeds, config_changes, resume_argv


class Noisy(Dataset):
    """Each sample draws from torch, numpy and ``random``, as augmentations do."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(i), torch.rand(()).item(), float(np.random.rand()), random.random()]), i


def noisy_collate(items):
    """A batch-wise augmentation (like the vectorised flip): draws once per batch."""
    x = torch.stack([x for x, _ in items])
    return x * (1 + torch.rand(())), torch.tensor([i for _, i in items])


def epoch(loader: ResumableLoader, e: int) -> list[torch.Tensor]:
    loader.sampler.set_epoch(e)
    return [x for x, _ in loader]


def test_mix_is_deterministic_and_spreads():
    assert mix(0, 1, 2) == mix(0, 1, 2)
    assert len({mix(0, e, i) for e in range(5) for i in range(50)}) == 250
    assert 0 <= mix(2**70, -3) < 2**63


def test_sampler_order_is_a_function_of_seed_and_epoch():
    ds = Noisy()
    a, b = EpochSampler(ds, seed=3), EpochSampler(ds, seed=3)
    a.set_epoch(2), b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert [i for i, _ in a] != [i for i, _ in b]
    assert sorted(i for i, _ in a) == list(range(40))


def test_skip_applies_to_its_epoch_only():
    s = EpochSampler(Noisy(), seed=0)
    s.set_epoch(1)
    full = list(s)
    s.skip(1, 8)
    assert list(s) == full[8:]
    assert list(s) == full  # once
    s.skip(1, 8)
    s.set_epoch(2)
    assert len(list(s)) == 40


def test_batches_do_not_depend_on_workers_or_on_what_ran_before():
    torch.manual_seed(0)
    one = epoch(ResumableLoader(Noisy(), batch_size=8, seed=5, collate_fn=noisy_collate), 1)
    torch.manual_seed(123)  # another history of the global RNGs
    np.random.seed(9)
    two = epoch(ResumableLoader(Noisy(), batch_size=8, seed=5, collate_fn=noisy_collate, num_workers=2), 1)
    assert all(torch.equal(a, b) for a, b in zip(one, two, strict=True))
    other = epoch(ResumableLoader(Noisy(), batch_size=8, seed=6, collate_fn=noisy_collate), 1)
    assert not torch.equal(one[0], other[0])


def test_model_draws_depend_on_the_step_not_on_what_ran_before():
    seeds, trainer = StepSeeds(seed=4), SimpleNamespace(current_epoch=2, global_rank=0)
    seeds.on_train_batch_start(trainer, None, None, 7)
    expected = torch.rand(3), np.random.rand(), random.random()
    epoch(ResumableLoader(Noisy(), batch_size=8, seed=0, collate_fn=noisy_collate), 0)  # data moves the RNGs
    torch.rand(5)
    seeds.on_train_batch_start(trainer, None, None, 7)
    assert torch.equal(torch.rand(3), expected[0]) and (np.random.rand(), random.random()) == expected[1:]
    seeds.on_train_batch_start(SimpleNamespace(current_epoch=2, global_rank=1), None, None, 7)
    assert not torch.equal(torch.rand(3), expected[0])  # another rank draws other dropout masks


def test_state_resumes_inside_an_epoch_and_after_one():
    ds = Noisy()
    loader = ResumableLoader(ds, batch_size=8, seed=2, collate_fn=noisy_collate)
    full = epoch(loader, 1)
    loader.sampler.set_epoch(1)
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches": 2, "seed": 2}

    resumed = ResumableLoader(ds, batch_size=8, seed=2, collate_fn=noisy_collate)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)  # what Lightning does at the epoch's (re)start
    rest = list(resumed)
    assert all(torch.equal(a, b) for (a, _), b in zip(rest, full[2:], strict=True))
    assert resumed.state_dict()["batches"] == 5  # counted from the epoch's start, for a second stop

    after = ResumableLoader(ds, batch_size=8, seed=2, collate_fn=noisy_collate)
    after.load_state_dict({"epoch": 1, "batches": 5, "seed": 2})  # the whole epoch was handed out
    assert after.sampler.epoch == 2 and len(list(after)) == 5


def test_state_from_another_seed_is_refused():
    loader = ResumableLoader(Noisy(), batch_size=8, seed=2)
    with pytest.raises(ValueError, match="seed 7"):
        loader.load_state_dict({"epoch": 0, "batches": 1, "seed": 7})


def test_resume_argv_uses_the_runs_own_config(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("seed_everything: 0\n")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    argv = resume_argv(["fit", "--resume", str(run), "--trainer.max_epochs", "9"])
    assert argv == ["fit", "--config", str(run / "config.yaml"), "--trainer.max_epochs", "9",
                    "--ckpt_path", str(run / "checkpoints" / "last.ckpt")]
    assert resume_argv(["fit", "--config", "a.yaml"]) == ["fit", "--config", "a.yaml"]
    for bad, words in ((["fit", "--resume", str(tmp_path / "nope")], "no config.yaml"),
                       (["test", "--resume", str(run)], "training run"),
                       (["fit", "--resume", str(run), "--config", "x.yaml"], "own config.yaml")):
        with pytest.raises(ConfigError, match=words):
            resume_argv(bad)
    (run / "checkpoints" / "last.ckpt").unlink()
    with pytest.raises(ConfigError, match=r"no checkpoints/\*.ckpt"):
        resume_argv(["fit", "--resume", str(run)])


def test_a_resume_may_change_only_length_and_devices():
    saved = {"trainer": {"max_epochs": 3, "devices": 1, "precision": "32-true"},
             "model": {"init_args": {"lr": 0.001}}, "ckpt_path": None}
    longer = {"trainer": {"max_epochs": 6, "devices": 2, "precision": "32-true"},
              "model": {"init_args": {"lr": 0.001}}, "ckpt_path": "x/last.ckpt"}
    assert config_changes(saved, longer) == []
    other = {"trainer": {"max_epochs": 3, "devices": 1, "precision": "bf16-mixed"},
             "model": {"init_args": {"lr": 0.01}}}
    assert config_changes(saved, other) == ["model.init_args.lr: 0.001 -> 0.01",
                                            "trainer.precision: '32-true' -> 'bf16-mixed'"]
