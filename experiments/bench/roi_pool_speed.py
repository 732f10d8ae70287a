"""``python -m experiments.bench.roi_pool_speed``: torchvision's CPU roi_pool against the tabulated op, side by side.

At the Fast R-CNN demo's sizes (one 96 px image: a 64 x 12 x 12 map at stride 8, 7x7 bins) and
RoI counts (the ~150 selective-search boxes of its fast mode, ~2000 as in the papers), on random
features and boxes like the demo's; the two ops alternate (round robin), medians of ``--repeats``
calls, in ``torch.inference_mode``; the results are checked equal. Prints the CPU and a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torchvision.ops import roi_pool as tv_roi_pool

from experiments.provenance import cpu_model
from lit_modules.ops.roi_pool_cpu import roi_pool_table


def boxes(n: int, side: int, g: torch.Generator) -> torch.Tensor:
    """``(n, 5)`` RoIs on image 0 with sides 8-60 % of the image, like selective search's on the demo."""
    wh = (0.08 + 0.52 * torch.rand(n, 2, generator=g)) * side
    xy = torch.rand(n, 2, generator=g) * (side - wh)
    return torch.cat([torch.zeros(n, 1), xy, xy + wh], 1)


def measure(rois: list[int], channels: int = 64, side: int = 96, stride: int = 8, pool: int = 7,
            repeats: int = 50) -> list[dict]:
    """Median ms of each op per RoI count."""
    g = torch.Generator().manual_seed(0)
    feat = torch.relu(torch.randn(1, channels, side // stride, side // stride, generator=g))
    ops = {"torchvision": tv_roi_pool, "table": roi_pool_table}
    out = []
    with torch.inference_mode():
        for n in rois:
            r = boxes(n, side, g)
            assert torch.equal(tv_roi_pool(feat, r, pool, 1 / stride), roi_pool_table(feat, r, pool, 1 / stride))
            times: dict[str, list[float]] = {k: [] for k in ops}
            for _ in range(repeats + 3):
                for name, op in ops.items():
                    t = time.perf_counter()
                    op(feat, r, pool, 1 / stride)
                    times[name].append(time.perf_counter() - t)
            med = {k: 1e3 * statistics.median(v[3:]) for k, v in times.items()}
            out.append({"rois": n, **med, "speedup": med["torchvision"] / med["table"]})
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rois", type=int, nargs="+", default=[150, 2000])
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args(argv)
    rows = measure(args.rois, repeats=args.repeats)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          "map 1 x 64 x 12 x 12 (96 px at stride 8), 7x7 bins")
    print("| RoIs | torchvision roi_pool | tabulated | speed-up |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rois']} | {r['torchvision']:.2f} ms | {r['table']:.2f} ms | {r['speedup']:.1f}x |")


if __name__ == "__main__":
    main()
