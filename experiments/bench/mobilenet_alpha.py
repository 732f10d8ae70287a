"""MobileNet v1's width multipliers side by side: mult-adds, parameters and CPU latency at batch 1.

``python -m experiments.bench.mobilenet_alpha [--size 64] [--images 200] [--classes 8] [--shallow]`` builds
MobileNet v1 (``--shallow``: the paper's shallow net of Table 10, the demo's since 2026-12-07) at alpha 1.0,
0.75, 0.5, 0.25 and, for the paper's Table 4, the 0.5 net with full convolutions, and times them in this one process, interleaved
(image i on every net, then image i + 1: ``experiments.bench.latency.fps``), so a busy machine
slows them alike. Latency does not depend on the weights, so fresh nets are timed; the accuracies
come from the trained runs (``configs/sweeps/mobilenet_alpha.yaml``).
"""

from __future__ import annotations

import argparse

import torch

from experiments.bench.latency import fps
from lit_modules.nets.mobilenet import ALPHAS, mobilenet_v1, mult_adds


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.mobilenet_alpha", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64, help="input side (the demo: 64)")
    p.add_argument("--images", type=int, default=200, help="batch-1 forward passes per net")
    p.add_argument("--classes", type=int, default=8)
    p.add_argument("--shallow", action="store_true", help="the paper's shallow MobileNet (Table 10)")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    nets = {f"alpha {a}": mobilenet_v1(args.classes, alpha=a, shallow=args.shallow) for a in ALPHAS}
    nets["alpha 0.5, full conv"] = mobilenet_v1(args.classes, alpha=0.5, separable=False, shallow=args.shallow)
    inputs = list(torch.randn(args.images, 1, 3, args.size, args.size))
    speeds = fps(list(nets.values()), inputs, warmup=10)
    print(f"| net | mult-adds ({args.size} px) | params | latency bs1 (ms) | img/s |  ({torch.get_num_threads()} threads)")
    print("|---|---|---|---|---|")
    for (name, net), v in zip(nets.items(), speeds):
        params = sum(q.numel() for q in net.parameters())
        print(f"| {name} | {mult_adds(net, args.size) / 1e6:.2f} M | {params / 1e6:.3f} M | {1000 / v:.2f} | {v:.0f} |")


if __name__ == "__main__":
    main()
