"""Why the separable MobileNet trains slowly: each layer's gradient norm over its weight norm at initialisation.

``python -m experiments.bench.mobilenet_grads [--size 64] [--batch 64] [--seeds 3] [--shallow]`` builds the demo's
0.5 MobileNet (``configs/mobilenet/demo.yaml``) separable and with full convolutions, runs one
forward/backward pass of a random batch through each (fresh weights, training-mode BN, uniform
labels) and prints ``|grad| / |w|`` of every conv and linear weight, averaged over seeds. Behind BN a
weight's output does not depend on its scale, so this ratio is its relative step under SGD: a
layer whose ratio is 100x smaller learns 100x slower at the same learning rate.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from lit_modules.nets.mobilenet import is_depthwise, mobilenet_v1


def ratios(separable: bool, size: int, batch: int, seed: int, shallow: bool = False) -> list[tuple[str, float]]:
    """``(layer name, |grad| / |w|)`` of every weight with 2 or more dims, input to output."""
    torch.manual_seed(seed)
    net = mobilenet_v1(8, alpha=0.5, separable=separable, shallow=shallow)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 8, (batch,))
    F.cross_entropy(net(x), y).backward()
    kinds = {id(m.weight): "dw" if is_depthwise(m) else type(m).__name__ for m in net.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    return [(f"{n.removesuffix('.weight')} ({kinds[id(p)]})", (p.grad.norm() / p.norm()).item())
            for n, p in net.named_parameters() if p.ndim > 1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.mobilenet_grads", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--shallow", action="store_true", help="the paper's shallow MobileNet (Table 10)")
    args = p.parse_args(argv)
    for separable in (True, False):
        runs = [ratios(separable, args.size, args.batch, s, args.shallow) for s in range(args.seeds)]
        print(f"\n{'separable' if separable else 'full convolutions'}: |grad| / |w| at init, mean of {args.seeds} seeds")
        for i, (name, _) in enumerate(runs[0]):
            print(f"  {name:32s} {sum(r[i][1] for r in runs) / len(runs):.4f}")


if __name__ == "__main__":
    main()
