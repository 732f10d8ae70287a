"""NT-Xent, InfoNCE and the kNN vote: hand-computed cases and properties."""

import math

import pytest
import torch
import torch.nn.functional as F

from lit_modules.losses.nt_xent import info_nce, nt_xent
from lit_modules.metrics.knn import knn_scores


def _nt_xent_loops(z1, z2, t):
    """SimCLR eq. 1 written as the paper states it, one anchor at a time."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        j = (i + n2 // 2) % n2
        sims = [math.exp(float(z[i] @ z[k]) / t) for k in range(n2) if k != i]
        total += -math.log(math.exp(float(z[i] @ z[j]) / t) / sum(sims))
    return total / n2


def test_nt_xent_hand_computed_case():
    # Two orthogonal images, identical views: each anchor sees its partner at cos 1, the other
    # image's two views at cos 0, so the loss is -log(e / (e + 2)) for every anchor (tau = 1).
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert nt_xent(z, z.clone(), temperature=1.0).item() == pytest.approx(math.log(1 + 2 / math.e), rel=1e-6)


def test_nt_xent_matches_the_paper_equation():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    assert nt_xent(z1, z2, 0.3).item() == pytest.approx(_nt_xent_loops(z1, z2, 0.3), rel=1e-5)


def test_nt_xent_invariant_to_batch_order():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)
    perm = torch.randperm(8, generator=g)
    assert nt_xent(z1[perm], z2[perm], 0.5).item() == pytest.approx(nt_xent(z1, z2, 0.5).item(), rel=1e-6)
    # ... but pairing the views differently is a different (worse-aligned) problem
    assert nt_xent(z1, z2[perm], 0.5).item() != pytest.approx(nt_xent(z1, z2, 0.5).item(), rel=1e-3)


def test_nt_xent_aligned_views_score_low_and_random_views_high():
    z = torch.eye(16)[:8] * 3  # orthogonal images
    aligned = nt_xent(z, z.clone(), temperature=0.1).item()
    random = nt_xent(torch.randn(8, 16), torch.randn(8, 16), temperature=0.1).item()
    assert aligned < 1e-3  # the partner wins by exp(10) against each negative
    assert random > math.log(2)  # no better than a coin flip between partner and negatives


def test_nt_xent_local_rows_of_a_global_batch_average_to_the_global_loss():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    halves = [nt_xent(z1[i:i + 3], z2[i:i + 3], 0.5, z1, z2, offset=i) for i in (0, 3)]
    assert (sum(halves) / 2).item() == pytest.approx(nt_xent(z1, z2, 0.5).item(), rel=1e-6)


def test_nt_xent_rejects_a_batch_of_one_image():
    with pytest.raises(ValueError, match="at least 2 images"):
        nt_xent(torch.randn(1, 8), torch.randn(1, 8))


def test_nt_xent_falls_under_sgd():
    torch.manual_seed(0)
    x = torch.randn(32, 10)
    net = torch.nn.Linear(10, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    for _ in range(40):
        loss = nt_xent(net(x + 0.1 * torch.randn_like(x)), net(x + 0.1 * torch.randn_like(x)), 0.5)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    # 32 points in 8 dimensions cannot all be orthogonal: the floor is ~2.37 from 2.80
    assert sum(losses[-10:]) / 10 < losses[0] - 0.3


def test_info_nce_is_cross_entropy_with_the_positive_first():
    q, k = torch.randn(4, 8), torch.randn(4, 8)
    queue = F.normalize(torch.randn(16, 8), dim=1)
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.T], 1) / 0.2
    expected = -logits.log_softmax(1)[:, 0].mean()
    assert info_nce(q, k, queue, 0.2).item() == pytest.approx(expected.item(), rel=1e-6)


def test_knn_vote_weights_neighbours_by_similarity():
    bank = F.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1])
    scores = knn_scores(torch.tensor([[1.0, 0.05], [0.1, 1.0]]), bank, labels, 2, k=3, temperature=0.1)
    assert scores.argmax(1).tolist() == [0, 1]
    # k=1: only the single nearest neighbour votes
    one = knn_scores(torch.tensor([[0.0, 1.0]]), bank, labels, 2, k=1)
    assert one[0, 0] == 0 and one[0, 1] > 0
