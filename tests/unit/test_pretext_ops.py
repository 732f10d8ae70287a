"""Label generation of the pretext tasks: rotations, patch grids, relative positions, permutation
sets, ab quantisation and rebalancing."""

import math

import pytest
import torch

from contracts.errors import ConfigError
from lit_modules.ops.colour import (
    ab_bins,
    annealed_mean,
    lab_to_rgb,
    quantise,
    rebalance_weights,
    rgb_to_lab,
    soft_encode,
)
from lit_modules.ops.pretext import (
    NEIGHBOURS,
    grid_patches,
    hamming_permutations,
    min_hamming,
    relative_pairs,
    rotations,
)


def _coords(b=2, side=64):
    """Images whose channel 0 holds the row and channel 1 the column of each pixel."""
    r = torch.arange(side).float()
    return torch.stack([r.view(-1, 1).expand(side, side), r.view(1, -1).expand(side, side)]).expand(b, 2, side, side)


def test_rotation_labels_group_the_batch_by_angle():
    x = torch.randn(3, 3, 8, 8)
    rotated, labels = rotations(x)
    assert rotated.shape == (12, 3, 8, 8) and labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert torch.equal(rotated[:3], x)  # label 0 is the image itself
    for k in range(4):  # undoing the labelled rotation gives the image back
        assert torch.equal(torch.rot90(rotated[3 * k:3 * k + 3], -k, dims=(-2, -1)), x)
    assert not torch.equal(rotated[3:6], x)


def test_grid_patches_are_contiguous_crops_inside_their_cells():
    torch.manual_seed(0)
    patches = grid_patches(_coords(), grid=3, patch=16)  # cells of 21 px
    assert patches.shape == (2, 9, 2, 16, 16)
    for cell in range(9):
        i, j = divmod(cell, 3)
        rows, cols = patches[:, cell, 0], patches[:, cell, 1]
        assert torch.equal(rows[:, 1:, 0] - rows[:, :-1, 0], torch.ones(2, 15))  # consecutive rows
        assert torch.equal(cols[:, 0, 1:] - cols[:, 0, :-1], torch.ones(2, 15))
        assert (rows >= 21 * i).all() and (rows < 21 * (i + 1)).all()
        assert (cols >= 21 * j).all() and (cols < 21 * (j + 1)).all()
    offsets = patches[:, :, 0, 0, 0] - torch.arange(3).repeat_interleave(3) * 21
    assert len(offsets.unique()) > 1  # jittered, not a fixed grid
    with pytest.raises(ConfigError, match="patch=22"):
        grid_patches(_coords(), grid=3, patch=22)


def test_relative_pair_labels_name_the_neighbours_cell():
    torch.manual_seed(0)
    centre, neighbours, labels = relative_pairs(grid_patches(_coords(), grid=3, patch=16))
    assert labels.shape == (2, 8) and labels[0].tolist() == list(range(8))
    for k, cell in enumerate(NEIGHBOURS):
        i, j = divmod(cell, 3)
        dy = (neighbours[:, k, 0, 0, 0] // 21) - (centre[:, 0, 0, 0] // 21)
        dx = (neighbours[:, k, 1, 0, 0] // 21) - (centre[:, 1, 0, 0] // 21)
        assert (dy == i - 1).all() and (dx == j - 1).all()  # offset (row, col) of the label's cell


def test_permutation_set_is_far_apart_in_hamming_distance():
    perms = hamming_permutations(100, 9, seed=0)
    assert perms.shape == (100, 9)
    assert (perms.sort(1).values == torch.arange(9)).all()  # every row a permutation
    assert len({tuple(p) for p in perms.tolist()}) == 100
    g = torch.Generator().manual_seed(0)
    random_set = torch.stack([torch.randperm(9, generator=g) for _ in range(100)])
    assert min_hamming(perms) >= 6 > min_hamming(random_set)  # random sets hold near-duplicates
    assert torch.equal(perms, hamming_permutations(100, 9, seed=0))  # deterministic
    assert min_hamming(hamming_permutations(24, 4)) == 2  # all of 4!: two tiles swapped


@pytest.mark.parametrize("n", [0, 25])
def test_a_set_larger_than_the_possible_permutations_is_a_config_error(n):
    with pytest.raises(ConfigError, match=f"num_permutations={n}: a 4-tile puzzle has only 24"):
        hamming_permutations(n, 4)


def test_lab_round_trip_and_ab_quantisation():
    torch.manual_seed(0)
    rgb = torch.rand(2, 3, 8, 8)
    lab = rgb_to_lab(rgb)
    assert torch.allclose(lab_to_rgb(lab), rgb, atol=1e-4)
    centres = ab_bins(10.0)
    assert 200 < len(centres) < 529  # in-gamut bins of the 23 x 23 grid (the paper: 313 on ImageNet)
    assert torch.equal(quantise(centres, centres), torch.arange(len(centres)))  # a centre is its own bin
    ab = lab[:, 1:].permute(0, 2, 3, 1).reshape(-1, 2)
    err = (centres[quantise(ab, centres)] - ab).abs()
    assert err.max() <= 5.0 + 1e-4  # every sRGB colour's bin is the one it rounds to: within half a bin
    z = soft_encode(ab, centres)
    assert torch.allclose(z.sum(1), torch.ones(len(ab))) and ((z > 0).sum(1) == 5).all()
    assert torch.equal(z.argmax(1), quantise(ab, centres))


def test_rebalancing_favours_rare_colours_and_keeps_the_mean_weight_one():
    centres = ab_bins(10.0)
    grey = quantise(torch.zeros(1, 2), centres).item()
    counts = torch.ones(len(centres))
    counts[grey] = 1000.0  # grey dominates, as backgrounds do
    w = rebalance_weights(counts, centres, lam=0.5)
    kernel = torch.exp(-torch.cdist(centres, centres) ** 2 / 50)
    p = kernel @ (counts / counts.sum())
    assert math.isclose(float((p / p.sum() * w).sum()), 1.0, rel_tol=1e-5)
    assert w[grey] < 0.5 * w.median()
    assert torch.allclose(rebalance_weights(counts, centres, lam=1.0), torch.ones(len(centres)))  # no rebalancing


def test_annealed_mean_goes_from_the_mean_to_the_mode():
    centres = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    logits = torch.tensor([0.0, 0.5]).view(1, 2, 1, 1)
    mode = annealed_mean(logits, centres, temperature=0.01)[0, :, 0, 0]
    mean = annealed_mean(logits, centres, temperature=1.0)[0, :, 0, 0]
    assert torch.allclose(mode, centres[1], atol=1e-3) and 25 < mean[0] < 50
