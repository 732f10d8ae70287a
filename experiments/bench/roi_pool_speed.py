"""``python -m experiments.bench.roi_pool_speed``: torchvision's CPU roi_pool against the tabulated op, side by side.

At the Fast R-CNN demo's sizes (one 96 px image: a 64 x 12 x 12 map at stride 8, 7x7 bins). With
``--config`` (the Fast R-CNN demo's) the inputs are the demo's own: the feature maps of its first
``--images`` validation images (``--ckpt``: the trained weights, else the config's initial ones) and
their cached selective-search proposals (config overrides after ``--``, e.g. denser selective search);
without it, random features and ``--rois`` random boxes. The two ops alternate (round robin) in one
process, in ``torch.inference_mode``; medians over every call; the results are checked equal.
Prints the CPU and a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torchvision.ops import roi_pool as tv_roi_pool
from torchvision.ops.poolers import _convert_to_roi_format

from experiments.provenance import cpu_model
from lit_modules.ops.roi_pool_cpu import roi_pool_table

OPS = {"torchvision": tv_roi_pool, "table": roi_pool_table}


def boxes(n: int, side: int, g: torch.Generator) -> torch.Tensor:
    """``(n, 5)`` RoIs on image 0 with sides 8-60 % of the image."""
    wh = (0.08 + 0.52 * torch.rand(n, 2, generator=g)) * side
    xy = torch.rand(n, 2, generator=g) * (side - wh)
    return torch.cat([torch.zeros(n, 1), xy, xy + wh], 1)


def random_inputs(rois: int, channels: int = 64, side: int = 96, stride: int = 8) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    g = torch.Generator().manual_seed(0)
    feat = torch.relu(torch.randn(1, channels, side // stride, side // stride, generator=g))
    return [(feat, boxes(rois, side, g), 1 / stride)]


def demo_inputs(config: str, ckpt: str | None, images: int, overrides: list[str]) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """The Fast R-CNN demo's feature maps, RoIs (its cached proposals) and map / image scale, first ``images`` val images."""
    from experiments.build import build, load_weights

    model, dm, _ = build([config], overrides)
    if ckpt:
        load_weights(model, ckpt)
    model.eval()
    dm.setup("validate")
    out = []
    with torch.inference_mode():
        for i in range(images):
            image, target = dm._val[i]
            batch, props, _, _ = model.net.prepare([image.float() / 255 if image.dtype == torch.uint8 else image],
                                                   [target["proposals"].as_subclass(torch.Tensor)])
            feat = model.net.features(batch)["0"]
            out.append((feat, _convert_to_roi_format(props), feat.shape[-1] / batch.tensors.shape[-1]))
    return out


def measure(inputs: list[tuple[torch.Tensor, torch.Tensor, float]], pool: int = 7, repeats: int = 20) -> dict:
    """Median ms a call of each op over ``inputs`` x ``repeats`` (after one warm-up pass)."""
    times: dict[str, list[float]] = {k: [] for k in OPS}
    with torch.inference_mode():
        for feat, rois, scale in inputs:
            assert torch.equal(tv_roi_pool(feat, rois, pool, scale), roi_pool_table(feat, rois, pool, scale))
        for rep in range(repeats + 1):
            for feat, rois, scale in inputs:
                for name, op in OPS.items():
                    t = time.perf_counter()
                    op(feat, rois, pool, scale)
                    if rep:
                        times[name].append(time.perf_counter() - t)
    med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    return {"rois": sum(len(r) for _, r, _ in inputs) / len(inputs), **med, "speedup": med["torchvision"] / med["table"]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rois", type=int, nargs="+", default=[150, 2000], help="random boxes (without --config)")
    p.add_argument("--config", default=None, help="the Fast R-CNN demo config: its features and cached proposals")
    p.add_argument("--ckpt", default=None, help="with --config: the trained weights")
    p.add_argument("--images", type=int, default=20, help="with --config: validation images")
    p.add_argument("--repeats", type=int, default=20)
    args, overrides = p.parse_known_args(argv)
    if args.config:
        rows = [measure(demo_inputs(args.config, args.ckpt, args.images, overrides), repeats=args.repeats)]
        what = f"{args.config} {' '.join(overrides)}: {args.images} val images, their cached proposals"
    else:
        rows = [measure(random_inputs(n), repeats=args.repeats) for n in args.rois]
        what = "random features and boxes"
    print(f"CPU: {cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"map 1 x 64 x 12 x 12 (96 px at stride 8), 7x7 bins; {what}")
    print("| RoIs / image | torchvision roi_pool | tabulated | speed-up |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['rois']:.0f} | {r['torchvision']:.2f} ms | {r['table']:.2f} ms | {r['speedup']:.1f}x |")


if __name__ == "__main__":
    main()
