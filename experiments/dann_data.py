"""Build MNIST-M (Ganin & Lempitsky 2015, Sec. 4.1) as class folders: ``out/{train,test}/<digit>/<index>.png``.

Each MNIST digit is blended with a random 28x28 crop of a BSDS500 colour photo as
``|patch - digit|`` per channel (the paper's "difference of the pixel values"), so strokes become
the patch's colours inverted. MNIST's idx files are read from ``--mnist`` (torchvision's layout).

    python experiments/dann_data.py --mnist /data --bsds BSR/BSDS500/data/images --out /data/mnist_m
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from datamodules.sources.mnist import MNISTSource


def blend(digit: np.ndarray, photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``|crop - digit|`` for a (28, 28) uint8 digit and an (H, W, 3) uint8 photo -> (28, 28, 3) uint8."""
    y, x = rng.integers(0, photo.shape[0] - 28), rng.integers(0, photo.shape[1] - 28)
    patch = photo[y:y + 28, x:x + 28].astype(np.int16)
    return np.abs(patch - digit[..., None].astype(np.int16)).astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", required=True, help="folder with MNIST/raw/*-idx*-ubyte[.gz]")
    ap.add_argument("--bsds", required=True, help="folder of BSDS500 images (searched recursively for *.jpg)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    photos = sorted(Path(args.bsds).rglob("*.jpg"))
    if not photos:
        raise SystemExit(f"--bsds {args.bsds}: no .jpg files (BSR/BSDS500/data/images holds train/val/test)")
    images = [np.asarray(Image.open(p).convert("RGB")) for p in photos]
    rng = np.random.default_rng(args.seed)
    for split in ("train", "test"):
        mnist = MNISTSource(args.mnist, split)
        for i in range(len(mnist)):
            digit, label = mnist[i]
            folder = Path(args.out) / split / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            photo = images[rng.integers(len(images))]
            Image.fromarray(blend(digit[0].numpy(), photo, rng)).save(folder / f"{i:05d}.png")
        print(f"{split}: {len(mnist)} images -> {Path(args.out) / split}")


if __name__ == "__main__":
    main()
