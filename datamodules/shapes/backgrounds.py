"""Backgrounds and object colours for ShapesWorld: textures, and a palette that contrasts with them.

Backgrounds are described by a small frozen ``Background`` record (style, two colours, a few
geometry numbers, a noise seed, the smooth style's coarse grid) so that a scene is fully described by data and renders to the
same bytes every time. Object colours come from a fixed named palette (so captions can name them
truthfully), jittered, and only palette entries far enough from every background colour are used,
so objects stay visible on any texture without the colour depending on the object's class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops

from datamodules.shapes.rand import Stream, as_stream

# Named object colours. Spread over RGB so that, whatever the background, several stay far from it.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (40, 70, 230),
    "yellow": (245, 225, 40),
    "orange": (250, 140, 20),
    "purple": (140, 50, 190),
    "pink": (250, 140, 200),
    "cyan": (40, 215, 225),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "brown": (125, 75, 30),
}

# What ``WorldConfig.background`` names, and the concrete styles each one draws from.
STYLES = {"flat": ("flat",), "noise": ("noise",), "texture": ("stripes", "checks", "smooth")}


@dataclass(frozen=True)
class Background:
    """Everything needed to redraw one background.

    Attributes:
        style: ``flat``, ``noise``, ``stripes``, ``checks`` or ``smooth``.
        colors: Two RGB colours; the texture blends between them (both equal for ``flat``).
        period: Stripe/check period as a fraction of the image side.
        angle: Texture orientation in radians.
        phase: Stripe phase in radians.
        hard: Hard-edged (square-wave) stripes instead of a sine.
        noise: Per-pixel noise amplitude in grey levels (``noise`` style).
        grid: Side of the random grid that ``smooth`` upsamples.
        cells: That grid's grey levels, ``grid * grid`` bytes (``smooth`` only).
        seed: Picks the windows of the cached noise bank (``noise`` style).
    """

    style: str
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    period: float = 0.2
    angle: float = 0.0
    phase: float = 0.0
    hard: bool = False
    noise: float = 0.0
    grid: int = 4
    cells: bytes = b""
    seed: int = 0

    @property
    def adjective(self) -> str:
        """The word captions use for this background."""
        return {
            "flat": "plain",
            "noise": "noisy",
            "stripes": "striped",
            "checks": "checkered",
            "smooth": "mottled",
        }[self.style]


BACKGROUND_ADJECTIVES = ("plain", "noisy", "striped", "checkered", "mottled")


_PALETTE_RGB = np.array(list(PALETTE.values()), np.float32)  # (P, 3)


def _segment_distance(a: tuple[int, ...], b: tuple[int, ...]) -> np.ndarray:
    """Euclidean distance (P,) from each palette colour to the colour segment a-b."""
    a_, b_ = np.asarray(a, np.float32), np.asarray(b, np.float32)
    ab = b_ - a_
    denom = float(ab @ ab)
    t = np.clip((_PALETTE_RGB - a_) @ ab / denom, 0, 1)[:, None] if denom else 0.0
    return np.sqrt(((_PALETTE_RGB - a_ - t * ab) ** 2).sum(1))


def contrasting_colors(bg: Background, min_contrast: float) -> tuple[str, ...]:
    """Palette names whose colour is at least ``min_contrast`` (RGB distance) from the background.

    The distance is to the whole segment between the background's two colours, since ``smooth``
    and sine stripes show every blend of them; ``noise`` adds its amplitude to the margin.
    """
    ok = _segment_distance(*bg.colors) >= min_contrast + bg.noise
    return tuple(n for n, keep in zip(PALETTE, ok.tolist()) if keep)


def sample_background(
    rng: np.random.Generator | Stream, kind: str, min_contrast: float, min_colors: int = 3
) -> tuple[Background, tuple[str, ...]]:
    """Draw a background of family ``kind`` and the palette colours that stay visible on it.

    Args:
        rng: The sample's generator or stream.
        kind: ``flat``, ``noise`` or ``texture`` (``WorldConfig.background``).
        min_contrast: Minimum RGB distance between an object colour and the background.
        min_colors: Redraw the background colours until at least this many palette entries
            contrast with it (so that several objects can get distinct colours).

    Returns:
        The background and the usable palette names (never empty).
    """
    r = as_stream(rng)
    style = r.choice(STYLES[kind])
    for _ in range(50):
        grid = r.integers(3, 8)
        c1 = tuple(r.integers(256) for _ in range(3))
        # A texture's second colour is near the first: two far-apart colours would leave almost
        # no palette entry that contrasts with both, and strong textures already hide shapes.
        c2 = c1
        if style not in ("flat", "noise"):
            c2 = tuple(int(min(255, max(0, v + r.normal(0, 45)))) for v in c1)
        bg = Background(
            style=style,
            colors=(c1, c2),
            period=r.uniform(0.08, 0.3),
            angle=r.uniform(0, math.pi),
            phase=r.uniform(0, 2 * math.pi),
            hard=r.random() < 0.5,
            noise=r.uniform(10, 30) if style == "noise" else 0.0,
            grid=grid,
            # Drawn here, not at render time, so rendering needs no generator (~15 us each).
            cells=r.rng.integers(0, 256, grid * grid, np.uint8).tobytes()
            if style == "smooth"
            else b"",
            seed=r.integers(2**31),
        )
        names = contrasting_colors(bg, min_contrast)
        if len(names) >= min_colors:
            return bg, names
    # Practically unreachable with the default palette; fall back to the most distant entries.
    order = np.argsort(-_segment_distance(*bg.colors), kind="stable")[:min_colors]
    return bg, tuple(list(PALETTE)[i] for i in order)


def jittered_color(
    rng: np.random.Generator | Stream, name: str, jitter: float
) -> tuple[int, int, int]:
    """The palette colour ``name`` moved by up to ``jitter`` (fraction of 255) per channel."""
    r = as_stream(rng)
    return tuple(int(min(255, max(0, c + r.uniform(-jitter, jitter) * 255))) for c in PALETTE[name])


@lru_cache(maxsize=8)
def _axes(size: int) -> np.ndarray:
    return np.arange(size, dtype=np.float32) + 0.5  # pixel-centre coordinates


_NOISE_STD = 40.0  # grey-level std of the cached noise bank


@lru_cache(maxsize=4)
def _noise_bank(size: int) -> Image.Image:
    # Gaussian noise drawn once per image size; each background crops three random windows of
    # it (one per channel), which is ~10x cheaper than drawing 3*size*size normals per sample.
    side = 4 * size
    noise = np.random.default_rng(20240607).normal(128, _NOISE_STD, (side, side))
    return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))


def render_background(bg: Background, size: int) -> Image.Image:
    """Draw ``bg`` as a (size, size) RGB PIL image; deterministic in ``bg`` alone.

    Textures are computed as one uint8 field and blended between the two colours by PIL
    (``Image.composite``), which keeps a 64 px background around 50 us.
    """
    if bg.style == "flat":
        return Image.new("RGB", (size, size), bg.colors[0])
    if bg.style == "noise":
        bank = _noise_bank(size)
        span = bank.width - size
        channels = []
        for ch in range(3):
            h = (bg.seed * 2654435761 + ch * 40503) & 0xFFFFFFFF  # cheap hash -> crop corner
            ox, oy = h % span, (h // span) % span
            channels.append(bank.crop((ox, oy, ox + size, oy + size)))
        flat = Image.new("RGB", (size, size), bg.colors[0])
        full = ImageChops.add(Image.merge("RGB", channels), flat, 1.0, -128)  # colour + noise
        return Image.blend(flat, full, bg.noise / _NOISE_STD)  # scale noise to its amplitude
    if bg.style == "smooth":
        coarse = Image.frombytes("L", (bg.grid, bg.grid), bg.cells)
        field = coarse.resize((size, size), Image.BICUBIC)
    else:
        x = _axes(size)
        period = bg.period * size
        ca, sa = math.cos(bg.angle), math.sin(bg.angle)
        if bg.style == "stripes":
            wave = np.sin(np.add.outer(x * sa, x * ca) * (2 * math.pi / period) + bg.phase)
            wave = np.where(wave > 0, 255, 0) if bg.hard else (wave + 1) * 127.5
        elif bg.style == "checks":
            # Offset by 4 * size so coordinates are positive and int truncation equals floor.
            u = (np.add.outer(x * sa, x * ca) / period + 4 * size).astype(np.int32)
            v = (np.add.outer(x * ca, -x * sa) / period + 4 * size).astype(np.int32)
            wave = ((u ^ v) & 1) * 255
        else:
            raise ValueError(f"unknown background style {bg.style!r}")
        field = Image.fromarray(wave.astype(np.uint8))
    low = Image.new("RGB", (size, size), bg.colors[0])
    high = Image.new("RGB", (size, size), bg.colors[1])
    return Image.composite(high, low, field)  # field 0 -> colors[0], 255 -> colors[1]
