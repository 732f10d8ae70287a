"""LeNet-5 demo: what the loader's collate costs next to one training step, per input normalisation.

``python -m experiments.bench.lenet_loader [--batch 64] [--reps 50]`` builds the demo's data
(``configs/lenet/demo.yaml``'s world, grayscale 32 px, the paper's distortions) and times, on one batch of
``--batch`` rendered training images: the whole collate (stack, luma, distortions, normalisation) with
``normalize: dataset`` and ``normalize: lecun``, each normalisation alone, and one training step of LeNet-5
(forward, backward, AdamW). Medians of ``--reps`` after 3 warm-ups, interleaved so that a neighbour's load hits every case alike. Run it through the CPU slot.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from datamodules.classification import GRAY_SHAPES_STATS, ClassificationDataModule
from datamodules.pixels import LeCunNormalize, PixelNormalize
from lit_modules.nets.lenet import LeNet5

# the demo's world as its config states it (a copy here had drifted: no min_contrast, colour jitter or seed)
WORLD = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs/lenet/demo.yaml").read_text())["data"]["init_args"]["world"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.lenet_loader", description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--reps", type=int, default=50)
    args = p.parse_args(argv)
    kw = {"image_size": 32, "grayscale": True, "augment": "lenet", "world": WORLD, "train_size": args.batch,
          "val_size": 16, "batch_size": args.batch}
    dms = {n: ClassificationDataModule(normalize=n, **kw) for n in ("dataset", "lecun")}
    for dm in dms.values():
        dm.setup("fit")
    samples = [dms["dataset"]._train[i] for i in range(args.batch)]
    collates = {n: dm.collate_fn(dm._train, True) for n, dm in dms.items()}
    gray, _ = collates["dataset"](samples)
    pixels = gray * 64 + 128  # back to 0..255 luma
    torch.manual_seed(0)
    net, y = LeNet5(8), torch.randint(0, 8, (args.batch,))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(net(gray), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    cases: dict[str, Callable[[], object]] = {
        "collate, normalize: dataset": lambda: collates["dataset"](samples),
        "collate, normalize: lecun": lambda: collates["lecun"](samples),
        "normalisation alone, dataset (mean/std)": lambda: PixelNormalize(*GRAY_SHAPES_STATS)(pixels),
        "normalisation alone, lecun": lambda: LeCunNormalize()(pixels),
        "LeNet-5 training step (AdamW)": step,
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for rep in range(args.reps + 3):
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            if rep >= 3:
                times[name].append(1000 * (time.perf_counter() - t))
    for name, ts in times.items():
        print(f"{name}: {sorted(ts)[len(ts) // 2]:.2f} ms / batch of {args.batch}", flush=True)


if __name__ == "__main__":
    main()
