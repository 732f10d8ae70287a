"""MobileNet v1's stride layout at 64 px: the cost of one training step, separable and full, stem stride 2 or 1.

``python -m experiments.bench.mobilenet_layout [--size 64] [--batch 64] [--steps 5]`` builds the demo's 0.5
MobileNet (``configs/mobilenet/demo.yaml``) separable and with full convolutions, with the paper's stride-2 stem
(64 px ends at 2x2) and a stride-1 stem (4x4, as CIFAR MobileNets), and times forward + backward + an SGD step
of one random batch (median of ``--steps`` after 2 warm-up steps; 2 for the slowest net), channels-last and,
for the separable nets, contiguous. Run it through the CPU slot: it is a timing.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from lit_modules.nets.mobilenet import mobilenet_v1

CASES = ((True, 2, True), (True, 2, False), (True, 1, True), (True, 1, False), (False, 2, True), (False, 1, True))


def step_ms(separable: bool, stem: int, channels_last: bool, size: int, batch: int, steps: int) -> float:
    """Median milliseconds of one training step of a fresh net on one fixed random batch."""
    torch.manual_seed(0)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 8, (batch,))
    net = mobilenet_v1(8, alpha=0.5, separable=separable, stem_stride=stem)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    times = []
    for _ in range(steps + 2):
        t = time.perf_counter()
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    timed = sorted(times[2:])
    return 1000 * timed[len(timed) // 2]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.mobilenet_layout", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    for separable, stem, cl in CASES:
        ms = step_ms(separable, stem, cl, args.size, args.batch, 2 if (not separable and stem == 1) else args.steps)
        print(f"separable={separable} stem={stem} channels_last={cl}: {ms:.0f} ms/step, "
              f"{args.batch / ms * 1000:.0f} img/s", flush=True)


if __name__ == "__main__":
    main()
