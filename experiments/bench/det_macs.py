"""Multiply-adds per window of R-CNN's and Fast R-CNN's nets: why one test-time ratio can or cannot be large.

R-CNN runs the whole CNN on each of N warped windows; Fast R-CNN runs its conv layers once on the
image and only fc6/fc7 per window (RoI). So R-CNN / Fast R-CNN = N (conv_window + fc) / (conv_image
+ N fc), which tends to (conv_window + fc) / fc as N grows: the conv-to-fc balance of the
per-window net bounds the speed-up at any number of windows. Printed for the demo configs' small
CNN and for the papers' AlexNet and VGG-16 (torch's FLOP counter; no weights, nothing trained).
``--heads`` adds the demo backbone under other heads (RoI pool side x fc6/fc7 width, shared by
both detectors): what a head costs per RoI, and the bound it puts on the ratio.

    python -m experiments.bench.det_macs [--rcnn configs/rcnn/demo.yaml --fast configs/fast_rcnn/demo.yaml] [--heads]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import alexnet, vgg16


def macs(fn, x: torch.Tensor) -> float:
    """Multiply-adds of ``fn(x)`` (half of torch's FLOP count)."""
    with FlopCounterMode(display=False) as mode, torch.no_grad():
        fn(x)
    return mode.get_total_flops() / 2


def ratio(n: float, conv_window: float, fc_rcnn: float, conv_image: float, fc_fast: float) -> float:
    """R-CNN / Fast R-CNN multiply-adds at ``n`` windows an image."""
    return n * (conv_window + fc_rcnn) / (conv_image + n * fc_fast)


def demo_nets(rcnn: Path, fast: Path, head: dict[str, int] | None = None) -> dict[str, float]:
    """The demo configs' per-window costs: conv of one window, fc6+fc7 of R-CNN and of Fast R-CNN, conv of the image.

    ``head``: ``pool`` / ``representation`` in place of both configs' (the same head for both).
    """
    from lit_modules.nets.fast_rcnn import FastRCNN
    from lit_modules.nets.region_cnn import RegionCNN

    r = {**yaml.safe_load(rcnn.read_text())["model"]["init_args"], **(head or {})}
    f = {**yaml.safe_load(fast.read_text())["model"]["init_args"], **(head or {})}
    net = RegionCNN(r["num_classes"], r["backbone"], r["window"], width=r["width"], representation=r["representation"],
                    pool=r.get("pool")).eval()
    window = torch.rand(1, 3, r["window"], r["window"])
    fast_net = FastRCNN(f["num_classes"], f["backbone"], width=f["width"], representation=f["representation"],
                        min_size=f["min_size"], max_size=f["max_size"], pool=f.get("pool", 7)).eval()
    side = f.get("pool", 7)
    pooled = torch.rand(1, fast_net.backbone.out_channels, side, side)
    with torch.no_grad():
        fmap = net.pool(net.body(window))
    return {"conv_window": macs(net.body, window), "fc_rcnn": macs(net.fc, fmap),
            "conv_image": macs(fast_net.backbone, torch.rand(1, 3, f["max_size"], f["max_size"])),
            "fc_fast": macs(fast_net.roi_heads.box_head, pooled), "window": r["window"], "image": f["max_size"]}


def paper_net(name: str) -> dict[str, float]:
    """AlexNet (227 px windows) or VGG-16 (224): conv and fc6+fc7 per window; Fast R-CNN's image: a 500 x 375 VOC image at 600 x 800."""
    net, side, flat = (alexnet(), 227, 9216) if name == "alexnet" else (vgg16(), 224, 25088)
    conv, fc = macs(net.features, torch.rand(1, 3, side, side)), macs(net.classifier[:-1], torch.rand(1, flat))
    return {"conv_window": conv, "fc_rcnn": fc, "conv_image": conv * 600 * 800 / side**2, "fc_fast": fc,
            "window": side, "image": "600 x 800"}


# (RoI pool side, fc6/fc7 width) of the --heads rows: the demo's own head was 7x7 (R-CNN 6x6) -> 256
HEADS = [(7, 256), (7, 64), (7, 32), (6, 64), (4, 128), (4, 64), (4, 32), (3, 128), (3, 64), (3, 32), (2, 64)]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.det_macs", description=__doc__.split("\n")[0])
    p.add_argument("--rcnn", type=Path, default=Path("configs/rcnn/demo.yaml"))
    p.add_argument("--fast", type=Path, default=Path("configs/fast_rcnn/demo.yaml"))
    p.add_argument("--heads", action="store_true", help="also the demo backbone under other heads (pool x width)")
    args = p.parse_args(argv)
    nets = {"demo (small CNN)": demo_nets(args.rcnn, args.fast), "AlexNet": paper_net("alexnet"), "VGG-16": paper_net("vgg16")}
    if args.heads:
        for pool, width in HEADS:
            nets[f"demo backbone, head {pool}x{pool} -> {width}"] = demo_nets(args.rcnn, args.fast,
                                                                                {"pool": pool, "representation": width})
    print("| net | conv / window | fc6+fc7 / window (R-CNN, Fast R-CNN) | conv / image | conv : fc | R-CNN / Fast R-CNN at 150 / 2000 / any windows |")
    print("|---|---|---|---|---|---|")
    for name, m in nets.items():
        r = [ratio(n, m["conv_window"], m["fc_rcnn"], m["conv_image"], m["fc_fast"]) for n in (150, 2000)]
        top = (m["conv_window"] + m["fc_rcnn"]) / m["fc_fast"]
        print(f"| {name} | {m['conv_window'] / 1e6:.1f} M ({m['window']:.0f} px) | {m['fc_rcnn'] / 1e6:.2f} M, "
              f"{m['fc_fast'] / 1e6:.2f} M | {m['conv_image'] / 1e6:.1f} M ({m['image']} px) | "
              f"{m['conv_window'] / m['fc_fast']:.0f} | {r[0]:.1f}x / {r[1]:.1f}x / < {top:.0f}x |")


if __name__ == "__main__":
    main()
