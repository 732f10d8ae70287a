"""How the data differs per rank: every rank takes a disjoint shard of one (seed, epoch) permutation,
and a sample's augmentation seed depends on (seed, epoch, index), not on the rank that reads it."""

import pytest

from datamodules.loaders import EvalShards
from datamodules.resumable import EpochSampler, mix


@pytest.mark.parametrize("world", [2, 3])
def test_training_shards_are_disjoint_and_cover_the_epoch(world):
    data, seed = list(range(101)), 7
    for epoch in (0, 1):
        shards = []
        for rank in range(world):
            sampler = EpochSampler(data, seed, num_replicas=world, rank=rank)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        indices = [i for shard in shards for i, _ in shard]
        assert len(indices) == len(set(indices))  # disjoint
        assert len(indices) == len(data) - len(data) % world  # drop_last: only the remainder is left out
        assert all(s == mix(seed, epoch, i) for shard in shards for i, s in shard)  # rank-free sample seeds
        assert len({len(shard) for shard in shards}) == 1  # equal steps per rank (DDP needs it)
    one = EpochSampler(data, seed, num_replicas=1, rank=0)
    one.set_epoch(1)
    again = EpochSampler(data, seed, num_replicas=1, rank=0)
    assert list(again) != list(one)  # another epoch, another order


@pytest.mark.parametrize("world", [2, 3, 4])
def test_evaluation_shards_read_every_sample_once(world):
    data = list(range(201))
    shards = [list(EvalShards(data, num_replicas=world, rank=r)) for r in range(world)]
    assert sorted(i for shard in shards for i in shard) == data
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
