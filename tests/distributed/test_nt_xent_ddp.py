"""Gathered NT-Xent on two CPU processes (gloo) = one-process NT-Xent on the same global batch.

(The same two processes also check MoCo's shuffled key computation across processes.)

Each process holds half of the global batch, gathers both views' embeddings from the other
with gradients and scores its own rows against all of them; DDP averages the parameter
gradients. The mean loss and the parameter gradients must equal those of one process that
holds the whole batch, and so must the embedding gradients up to the factor W = 2 that
DDP's averaging divides out (the gather's backward sums the gradients over processes).
"""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from lit_modules.losses.gather import gather_with_grad, world
from lit_modules.losses.nt_xent import nt_xent
from lit_modules.moco import MoCoV2

N, DIM, TAU, WORLD = 6, 5, 0.2, 2  # 6 images per process, 12 in the global batch


def _data_and_net():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(WORLD * N, DIM, generator=g), torch.randn(WORLD * N, DIM, generator=g)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(DIM, 16), nn.ReLU(), nn.Linear(16, 8))  # no BN: see SimCLR's docstring
    return x1, x2, net


def _moco():
    torch.manual_seed(0)
    model = MoCoV2(num_classes=3, encoder="small_cnn", width=4, proj_hidden=8, proj_dim=4, queue_size=8).eval()
    return model, torch.randn(WORLD * N, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    x1, x2, net = _data_and_net()
    ddp = nn.parallel.DistributedDataParallel(net)
    mine = slice(rank * N, (rank + 1) * N)
    z1 = net(x1[mine]).detach().requires_grad_()  # leaf embeddings, to read their gradient
    z2 = net(x2[mine]).detach().requires_grad_()
    assert world() == (rank, WORLD)
    loss = nt_xent(z1, z2, TAU, gather_with_grad(z1), gather_with_grad(z2), offset=rank * N)
    loss.backward()
    # parameter gradients through DDP: the same loss again, on the module's own graph
    p1, p2 = ddp(x1[mine]), ddp(x2[mine])
    nt_xent(p1, p2, TAU, gather_with_grad(p1), gather_with_grad(p2), offset=rank * N).backward()
    mean_loss = loss.detach().clone()
    dist.all_reduce(mean_loss)
    moco, images = _moco()
    keys = moco._keys(images[mine])  # shuffled over both processes' images, returned in input order
    torch.save({"loss": mean_loss / WORLD, "g1": z1.grad, "g2": z2.grad, "keys": keys,
                "params": [p.grad.clone() for p in net.parameters()]}, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [torch.load(out / f"rank{rank}.pt") for rank in range(WORLD)]


@pytest.mark.distributed
def test_gathered_nt_xent_equals_one_process_loss_and_gradients(ranks):
    x1, x2, net = _data_and_net()
    z1, z2 = net(x1).detach().requires_grad_(), net(x2).detach().requires_grad_()
    loss = nt_xent(z1, z2, TAU)
    loss.backward()
    net.zero_grad()
    nt_xent(net(x1), net(x2), TAU).backward()
    for rank, r in enumerate(ranks):
        mine = slice(rank * N, (rank + 1) * N)
        assert r["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
        torch.testing.assert_close(r["g1"] / WORLD, z1.grad[mine], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(r["g2"] / WORLD, z2.grad[mine], rtol=1e-5, atol=1e-7)
        for got, want in zip(r["params"], net.parameters()):
            torch.testing.assert_close(got, want.grad, rtol=1e-5, atol=1e-7)
    # and the gradients are not trivially zero
    assert z1.grad.abs().sum() > 0 and all(p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.distributed
def test_moco_keys_shuffled_across_processes_come_back_to_their_images(ranks):
    moco, images = _moco()  # eval mode: BN uses running statistics, so only the bookkeeping is tested
    with torch.no_grad():
        expected = moco.key_head(moco.key_backbone(images))
    for rank, r in enumerate(ranks):
        torch.testing.assert_close(r["keys"], expected[rank * N:(rank + 1) * N], rtol=1e-5, atol=1e-6)
