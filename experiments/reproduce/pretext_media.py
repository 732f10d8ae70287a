"""``python -m experiments.reproduce.pretext_media [--runs-dir runs] [--out docs/figures/pretext] [-n 6]``.

One picture per pretext task of what its network is shown, on the first validation scenes of
the SimCLR demo's world: rotated images (RotNet), centre patch | neighbour | position label
(relative position), tiles in place | shuffled (jigsaw), grey input | colourised | original
(colourisation, by the trained decoder of ``<runs>/colorization-demo/s0``). The other three
pictures need no training; they come from the seed-0 checkpoints when present.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml
from PIL import Image

from experiments.reproduce.reproduce import ROOT

TASKS = {"rotnet": "lit_modules.rotnet.RotNet", "relative_position": "lit_modules.relative_position.RelativePosition",
         "jigsaw": "lit_modules.jigsaw.Jigsaw", "colorization": "lit_modules.colorization.Colorization"}


def main(argv: list[str] | None = None) -> int:
    import importlib

    from datamodules.ssl import SSLDataModule

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--out", type=Path, default=Path("docs/figures/pretext"))
    p.add_argument("-n", type=int, default=6)
    args = p.parse_args(argv)
    runs = args.runs_dir if args.runs_dir.is_absolute() else ROOT / args.runs_dir
    out = args.out if args.out.is_absolute() else ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, path in TASKS.items():
        cfg = yaml.safe_load((ROOT / f"configs/{name}/demo.yaml").read_text())
        dm = SSLDataModule(**{**cfg["data"]["init_args"], "num_workers": 0, "val_size": args.n, "train_size": args.n,
                              "bank_size": args.n})
        dm.setup("fit")
        images = next(iter(dm.val_dataloader()[1]))[0][:args.n]
        module, cls = path.rsplit(".", 1)
        cls = getattr(importlib.import_module(module), cls)
        ckpt = runs / f"{name}-demo" / "s0" / "checkpoints" / "last.ckpt"
        if ckpt.is_file():
            model = cls.load_from_checkpoint(ckpt, map_location="cpu")
        elif name == "colorization":
            print(f"{name}: no checkpoint at {ckpt}; skipped (the colourised column needs the trained decoder)")
            continue
        else:
            model = cls(**cfg["model"]["init_args"])
        model.eval()
        model.grey.set_stats(*dm._stats())
        torch.manual_seed(0)
        with torch.no_grad():
            picture = model.media(images)
        target = out / f"{name}.png"
        Image.fromarray(picture).resize((picture.shape[1] * 2, picture.shape[0] * 2), Image.NEAREST).save(target)
        print(f"{name}: {target} ({model.media_caption})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
