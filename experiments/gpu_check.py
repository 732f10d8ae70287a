"""``make gpu-check`` (``paperlab gpu-check``): training throughput of three paper models on this GPU.

ViT-B/16 (224 px), ResNet-50 (224 px) and Faster R-CNN R50-FPN (640 px, 4 boxes per image) train on
synthetic input with bf16 autocast (``bf16-mixed``), channels_last for the convolutional nets, and
``torch.compile`` for the two classifiers (fixed shapes; the detector's shapes vary per image, so it
runs eager). For each: images/s over timed steps after a warm-up, FLOPs per image (forward +
backward, counted by Lightning's ``measure_flops``), MFU against the device's datasheet bf16 peak
(``experiments.peak``) and the peak memory allocated. The table goes to docs/GPU.md with the device's
name. Without CUDA it refuses and leaves docs/GPU.md as it is: nothing here is estimated.

    paperlab gpu-check [--steps 20] [--warmup 5] [--only vit_b16,resnet50] [--out docs/GPU.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from experiments import peak

PRECISION = "bf16-mixed"


def _classifier(net: nn.Module, batch: int, size: int = 224) -> tuple[nn.Module, Callable, Callable]:
    def data(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(n, 3, size, size, device="cuda"), torch.randint(0, 1000, (n,), device="cuda")

    def loss(model: nn.Module, x: Any) -> torch.Tensor:
        return F.cross_entropy(model(x[0]), x[1])

    return net, data, loss


def build(name: str) -> tuple[nn.Module, Callable[[int], Any], Callable[[nn.Module, Any], torch.Tensor], dict]:
    """(model, make_batch(n), loss(model, batch), settings) for one of ``MODELS``."""
    if name == "vit_b16":
        from lit_modules.nets.vit import vit

        return (*_classifier(vit(1000, image_size=224, patch_size=16, width=768, depth=12, heads=12), 128),
                {"batch": 128, "channels_last": False, "compile": True})
    if name == "resnet50":
        from torchvision.models import resnet50

        return (*_classifier(resnet50(weights=None), 128), {"batch": 128, "channels_last": True, "compile": True})
    if name == "fasterrcnn_r50_fpn":
        from torchvision.models.detection import fasterrcnn_resnet50_fpn

        model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91, min_size=640,
                                        max_size=640)

        def data(n: int) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
            images = [torch.rand(3, 640, 640, device="cuda") for _ in range(n)]
            xy = torch.rand(n, 4, 2, device="cuda") * 440
            wh = 40 + torch.rand(n, 4, 2, device="cuda") * 160
            targets = [{"boxes": torch.cat([xy[i], xy[i] + wh[i]], 1),
                        "labels": torch.randint(1, 91, (4,), device="cuda")} for i in range(n)]
            return images, targets

        def loss(m: nn.Module, x: Any) -> torch.Tensor:
            return sum(m(x[0], x[1]).values())

        return model, data, loss, {"batch": 8, "channels_last": True, "compile": False}
    raise KeyError(name)


MODELS = ("vit_b16", "resnet50", "fasterrcnn_r50_fpn")


def flops_per_image(model: nn.Module, data: Callable, loss: Callable) -> float | None:
    from lightning.fabric.utilities.throughput import measure_flops

    try:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            flops = measure_flops(model, lambda: loss(model, data(1)), lambda out: out)
    except Exception as e:  # noqa: BLE001 (a model the counter cannot follow goes without MFU)
        print(f"  FLOPs not counted: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    model.zero_grad(set_to_none=True)
    return float(flops)


def run_one(name: str, compiled: bool, steps: int, warmup: int) -> dict[str, Any]:
    torch.manual_seed(0)
    model, data, loss, cfg = build(name)
    model = model.cuda().train()
    if cfg["channels_last"]:
        model = model.to(memory_format=torch.channels_last)
    flops = flops_per_image(model, data, loss)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    step_model = torch.compile(model) if compiled else model
    batch = data(cfg["batch"])
    if cfg["channels_last"] and isinstance(batch[0], torch.Tensor):
        batch = (batch[0].contiguous(memory_format=torch.channels_last), batch[1])

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            value = loss(step_model, batch)
        value.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    ips = cfg["batch"] * steps / seconds
    top = peak.peak_flops(torch.device("cuda"), PRECISION)
    row = {"model": name, "compile": compiled, "channels_last": cfg["channels_last"], "batch": cfg["batch"],
           "images_per_s": ips, "step_ms": 1000 * seconds / steps, "gflops_per_image": flops / 1e9 if flops else None,
           "mfu": flops * ips / top if flops and top else None,
           "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30}
    return row


def markdown(rows: list[dict[str, Any]], device: str, command: str) -> str:
    def fmt(v: float | None, f: str) -> str:
        return "n/a" if v is None else format(v, f)

    lines = ["# GPU check", "",
             (f"Measured by `{command}` on **{device}** "
             f"({datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, torch {torch.__version__}, "
             f"CUDA {torch.version.cuda}). Training steps (forward, backward, AdamW) on synthetic input, "
             f"{PRECISION}; MFU against the datasheet bf16 peak in `experiments/peak.py` "
             f"({fmt(peak.peak_flops(torch.device('cuda'), PRECISION), '.3g')} FLOP/s)."), "",
             "| model | compile | channels_last | batch | images/s | step ms | GFLOPs/image | MFU | peak mem GiB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['compile']} | {r['channels_last']} | {r['batch']} | "
                     f"{r['images_per_s']:.1f} | {r['step_ms']:.1f} | {fmt(r['gflops_per_image'], '.1f')} | "
                     f"{fmt(r['mfu'], '.1%')} | {r['peak_mem_gib']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="paperlab gpu-check", description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--only", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    p.add_argument("--out", default="docs/GPU.md")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("paperlab gpu-check: no CUDA device here (torch.cuda.is_available() is False); nothing measured, "
              f"{args.out} left as it is. Run `make gpu-check` on a machine with an NVIDIA GPU.", file=sys.stderr)
        sys.exit(2)
    device = torch.cuda.get_device_name(0)
    rows = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        for compiled in ((False, True) if build(name)[3]["compile"] else (False,)):
            print(f"{name} compile={compiled} ...", flush=True)
            rows.append(run_one(name, compiled, args.steps, args.warmup))
            torch.cuda.empty_cache()  # the last model's memory is free once run_one returned
            print(f"  {rows[-1]['images_per_s']:.1f} images/s", flush=True)
    text = markdown(rows, device, "make gpu-check")
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
