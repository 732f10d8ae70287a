"""Write one PNG contact sheet per ShapesWorld view, with labels drawn on, to look at the data.

Usage::

    python -m datamodules.shapes.grid --out /tmp/shapes_grid [--n 16] [--split val] [--zoom 4]
"""

from __future__ import annotations

import argparse
import colorsys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from datamodules.shapes.captions import ShapesCaptions
from datamodules.shapes.clips import ShapesClips
from datamodules.shapes.pose import ShapesPose
from datamodules.shapes.scene import Split
from datamodules.shapes.views import (
    ShapesClassification,
    ShapesDetection,
    ShapesSegmentation,
    ShapesUnlabeled,
)

_FONT = ImageFont.load_default()


def _hue(i: int, n: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((i % max(n, 1)) / max(n, 1), 0.9, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _pil(image: torch.Tensor, zoom: int) -> Image.Image:
    """(3, H, W) uint8 tensor -> PIL image enlarged ``zoom`` times with crisp pixels."""
    img = Image.fromarray(image.permute(1, 2, 0).numpy())
    return img.resize((img.width * zoom, img.height * zoom), Image.NEAREST)


def _text(img: Image.Image, xy: tuple[int, int], text: str) -> None:
    draw = ImageDraw.Draw(img)
    box = draw.textbbox(xy, text, font=_FONT)
    draw.rectangle(box, fill=(0, 0, 0))  # dark plate keeps text legible on any texture
    draw.text(xy, text, fill=(255, 255, 255), font=_FONT)


def _sheet(tiles: list[Image.Image], cols: int) -> Image.Image:
    w = max(t.width for t in tiles)
    h = max(t.height for t in tiles)
    rows = -(-len(tiles) // cols)
    sheet = Image.new("RGB", (cols * (w + 4), rows * (h + 4)), (40, 40, 40))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * (w + 4), (i // cols) * (h + 4)))
    return sheet


def classification(ds: ShapesClassification | ShapesUnlabeled, i: int, zoom: int) -> Image.Image:
    image, label = ds[i]
    img = _pil(image, zoom)
    _text(img, (2, 2), ds.classes[label])
    return img


def detection(ds: ShapesDetection, i: int, zoom: int) -> Image.Image:
    image, target = ds[i]
    img = _pil(image, zoom).convert("RGBA")
    overlay = Image.new("RGBA", img.size)
    n = len(target["labels"])
    for k, m in enumerate(target["masks"]):  # translucent instance masks
        rgba = Image.new("RGBA", img.size, (*_hue(k, n), 110))
        mask = Image.fromarray(m.numpy() * 255).resize(img.size, Image.NEAREST)
        overlay.paste(rgba, (0, 0), mask)
    img = Image.alpha_composite(img, overlay).convert("RGB")
    draw = ImageDraw.Draw(img)
    for k, (box, label) in enumerate(zip(target["boxes"].tolist(), target["labels"].tolist())):
        draw.rectangle([v * zoom for v in box], outline=_hue(k, n), width=2)
        _text(img, (int(box[0] * zoom) + 2, int(box[1] * zoom) + 2), ds.classes[label - 1])
    return img


def segmentation(ds: ShapesSegmentation, i: int, zoom: int) -> Image.Image:
    image, mask = ds[i]
    lut = np.array([(0, 0, 0)] + [_hue(k, ds.num_classes) for k in range(ds.num_classes)], np.uint8)
    colored = torch.from_numpy(lut[mask.numpy()]).permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    left, right = _pil(image, zoom), _pil(colored, zoom)
    for k in mask.unique().tolist()[1:]:
        ys, xs = (mask == k).nonzero(as_tuple=True)
        _text(
            right, (int(xs.float().mean()) * zoom, int(ys.float().mean()) * zoom), ds.classes[k - 1]
        )
    both = Image.new("RGB", (left.width * 2 + 2, left.height))
    both.paste(left, (0, 0))
    both.paste(right, (left.width + 2, 0))
    return both


def pose(ds: ShapesPose, i: int, zoom: int) -> Image.Image:
    image, target = ds[i]
    img = _pil(image, zoom)
    draw = ImageDraw.Draw(img)
    left = {a for a, _ in ds.flip_pairs}
    for person in target["keypoints"].tolist():
        xy = [(x * zoom, y * zoom) for x, y, _ in person]
        for a, b in ds.skeleton:
            draw.line(xy[a] + xy[b], fill=(255, 255, 255), width=1)
        for j, ((x, y), (_, _, v)) in enumerate(zip(xy, person)):
            color = (255, 60, 60) if j in left else (60, 160, 255) if j > 1 else (255, 255, 0)
            r = 3
            # Filled = visible (2), hollow = hidden behind another figure (1).
            draw.ellipse(
                (x - r, y - r, x + r, y + r), outline=color, fill=color if v == 2 else None
            )
    _text(img, (2, 2), "red=left blue=right, hollow=occluded")
    return img


def captions(ds: ShapesCaptions, i: int, zoom: int) -> Image.Image:
    image, caps = ds[i]
    img = _pil(image, zoom)
    line = 12
    tile = Image.new("RGB", (img.width * 3, img.height), (20, 20, 20))
    tile.paste(img, (0, 0))
    draw = ImageDraw.Draw(tile)
    for k, c in enumerate(caps):
        draw.text((img.width + 6, 6 + k * 2 * line), c, fill=(255, 255, 255), font=_FONT)
    return tile


def clip(ds: ShapesClips, i: int, zoom: int, every: int = 2) -> Image.Image:
    video, label = ds[i]
    frames = [_pil(video[:, t], zoom) for t in range(0, video.shape[1], every)]
    row = _sheet(frames, len(frames))
    _text(row, (2, 2), f"{ds.classes[label]} (every {every}th frame)")
    return row


def write_grids(out: Path, n: int = 16, split: Split = "val", zoom: int = 4) -> list[Path]:
    """Write one PNG per view into ``out`` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[str, object, Callable, int]] = [
        ("classification", ShapesClassification(split, n), classification, 4),
        ("unlabeled", ShapesUnlabeled(split, n), classification, 4),
        ("detection", ShapesDetection(split, n), detection, 4),
        ("segmentation", ShapesSegmentation(split, n), segmentation, 2),
        ("pose", ShapesPose(split, n), pose, 4),
        ("captions", ShapesCaptions(split, min(n, 8)), captions, 1),
        ("clips", ShapesClips(split, min(n, 9)), clip, 1),
    ]
    paths = []
    for name, ds, render, cols in jobs:
        tiles = [
            render(ds, i, zoom if name != "clips" else max(1, zoom // 2)) for i in range(len(ds))
        ]
        path = out / f"{name}.png"
        _sheet(tiles, cols).save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--n", type=int, default=16, help="samples per view")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--zoom", type=int, default=4, help="pixel enlargement")
    args = parser.parse_args(argv)
    for path in write_grids(args.out, args.n, args.split, args.zoom):
        print(path)


if __name__ == "__main__":
    main()
