"""``paperlab bench --data``: images/s of one loader worker on ImageNet-like JPEGs, PIL against torchvision.io.

Writes (once, then reuses) a folder of ``--data_images`` JPEGs of 500x375 (ImageNet's typical
size, quality 90, smooth colour fields plus noise so they compress like photographs) in class
folders, then times per image, in this one process at one thread (as a DataLoader worker runs):

* ``pil decode``: ``PIL.Image.open(f).convert("RGB")``, the ImageFolder source's loader today;
* ``tvio decode``: ``torchvision.io.decode_jpeg(read_file(path))`` to a uint8 (3, H, W) tensor;
* ``pil + recipe`` / ``tvio + recipe``: the same plus the classification recipe's training
  transform (``build_transforms``: v2 ops on the uint8 image, then float and normalise).

The four are measured interleaved: every round runs each on the same block of images, in an
order that rotates between rounds; each round gives one images/s per path, and the ratio
columns are medians over rounds of the per-round ratios, so machine noise hits both sides alike.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg, read_file

from datamodules.transforms import build_transforms
from experiments.provenance import cpu_model


def write_jpeg_folder(root: Path, images: int, size: tuple[int, int] = (500, 375), classes: int = 10) -> list[Path]:
    """``root/train/c<k>/<i>.JPEG``: ``images`` photographs-like JPEGs, written once (kept if already there)."""
    paths = [root / "train" / f"c{i % classes:03d}" / f"{i:06d}.JPEG" for i in range(images)]
    rng = np.random.default_rng(0)
    w, h = size
    for p in paths:
        if p.is_file():
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (h // 25 + 1, w // 25 + 1, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC), np.int16)
        noisy = np.clip(field + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(p, "JPEG", quality=90)
    return paths


def pil_decode(path: Path) -> Image.Image:
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


def tvio_decode(path: Path) -> torch.Tensor:
    return decode_jpeg(read_file(str(path)), mode=ImageReadMode.RGB)


def _rate(fn: Callable[[Path], object], paths: list[Path]) -> float:
    t = time.perf_counter()
    for p in paths:
        fn(p)
    return len(paths) / (time.perf_counter() - t)


def measure(paths: list[Path], recipe: str, image_size: int, rounds: int, block: int) -> dict[str, list[float]]:
    """images/s per round of each path, interleaved over ``rounds`` blocks of ``block`` images."""
    aug = build_transforms(recipe, image_size, train=True)  # type: ignore[arg-type]
    ways: dict[str, Callable[[Path], object]] = {
        "pil decode": pil_decode, "tvio decode": tvio_decode,
        "pil + recipe": lambda p: aug(pil_decode(p)), "tvio + recipe": lambda p: aug(tvio_decode(p)),
    }
    names = list(ways)
    rates: dict[str, list[float]] = {n: [] for n in names}
    for name in names:  # warm-up: file cache and first-call costs out of the timing
        _rate(ways[name], paths[: min(20, len(paths))])
    for r in range(rounds):
        chunk = [paths[(r * block + i) % len(paths)] for i in range(block)]
        for name in names[r % len(names):] + names[: r % len(names)]:
            rates[name].append(_rate(ways[name], chunk))
    return rates


def table(rates: dict[str, list[float]]) -> str:
    """Markdown: median images/s of each path and the per-round-median ratios tvio ÷ PIL."""
    med = {k: statistics.median(v) for k, v in rates.items()}

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rates[a], rates[b], strict=True))

    rows = ["| path | images/s per worker (median) | tvio ÷ PIL (median of rounds) |", "|---|---|---|"]
    rows.append(f"| pil decode | {med['pil decode']:.1f} | |")
    rows.append(f"| tvio decode | {med['tvio decode']:.1f} | {ratio('tvio decode', 'pil decode'):.3f} |")
    rows.append(f"| pil + recipe | {med['pil + recipe']:.1f} | |")
    rows.append(f"| tvio + recipe | {med['tvio + recipe']:.1f} | {ratio('tvio + recipe', 'pil + recipe'):.3f} |")
    return "\n".join(rows)


def run(data_dir: Path, images: int, recipe: str, image_size: int, rounds: int, block: int) -> dict:
    torch.set_num_threads(1)  # one DataLoader worker's view
    paths = write_jpeg_folder(data_dir, images)
    rates = measure(paths, recipe, image_size, rounds, block)
    mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e3
    print(f"{len(paths)} JPEGs 500x375 (mean {mb:.0f} kB) in {data_dir}; recipe {recipe} at {image_size} px; "
          f"{rounds} interleaved rounds of {block} images; 1 thread; {cpu_model()}; "
          f"{os.cpu_count()} CPUs; torch {torch.__version__}")
    print(table(rates))
    return {"rates": rates, "cpu": cpu_model(), "images": len(paths), "recipe": recipe}
