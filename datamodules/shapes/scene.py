"""The ShapesWorld scene model: a seeded sampler of scenes and a PIL renderer with masks.

A ``Scene`` is plain data (background, clutter, objects in depth order). ``sample_scene`` draws one
from a generator, ``render`` turns it into a uint8 image and, on request, per-object full and
visible masks. Each view in ``views.py`` is a thin label extractor over these two functions, so
detection, segmentation, captions and SSL see the same world. Index -> sample is deterministic:
``make_rng(seed, split, index)`` seeds a separate stream per (seed, split, index), so the train,
val and test splits never share a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from contracts.errors import ConfigError
from datamodules.shapes.backgrounds import (
    Background,
    jittered_color,
    render_background,
    sample_background,
)
from datamodules.shapes.geometry import DEFAULT_KINDS, SHAPES
from datamodules.shapes.rand import Stream, as_stream

Split = Literal["train", "val", "test"]
SPLIT_IDS: dict[str, int] = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class WorldConfig:
    """Difficulty settings of ShapesWorld; the defaults are a "medium" world.

    Medium means: a linear model on pixels stays near chance on classification (texture,
    random colours, position, scale, rotation and clutter), while a small CNN passes 95 %
    with a few thousand samples.

    Args:
        image_size: Side of the square images in pixels.
        kinds: Object classes, names from ``geometry.SHAPES``; label k is ``kinds[k]``.
        min_objects: Fewest objects per multi-object scene (detection, segmentation, captions).
        max_objects: Most objects per multi-object scene; placement may drop some when the
            occlusion limit cannot be met, never below one.
        scale_range: Object size (diameter of the circumscribed circle) as a fraction of the
            image side.
        clutter: Number of small distractor strokes/blobs (not objects, never labelled), drawn
            under the objects and smaller than the smallest object.
        occlusion: Largest fraction of any object that later objects may hide; 0 = no overlap.
        background: ``flat`` colour, per-pixel ``noise``, or ``texture`` (stripes, checks or
            smooth noise, two random colours).
        color_jitter: Per-channel jitter of object colours around their palette entry, as a
            fraction of 255 (small, so colour names in captions stay true).
        min_contrast: Minimum RGB distance between an object colour and the background colours.
        seed: World seed; changing it gives a new, equally distributed dataset.
        rotation: Objects at a random angle (default); False draws every object upright. The angle is
            still drawn, so a one-object scene keeps its kind, place, size and colour (with more objects
            the occlusion test sees other shapes and may place them elsewhere).
    """

    image_size: int = 64
    kinds: tuple[str, ...] = DEFAULT_KINDS
    min_objects: int = 1
    max_objects: int = 4
    scale_range: tuple[float, float] = (0.25, 0.55)
    clutter: int = 4
    occlusion: float = 0.3
    background: Literal["flat", "noise", "texture"] = "texture"
    color_jitter: float = 0.08
    min_contrast: float = 100.0
    seed: int = 0
    rotation: bool = True

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in SHAPES]
        if unknown or len(set(self.kinds)) != len(self.kinds) or not self.kinds:
            raise ValueError(
                f"kinds must be distinct names from {sorted(SHAPES)}, got {self.kinds}"
            )
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError("need 1 <= min_objects <= max_objects")
        lo, hi = self.scale_range
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"scale_range must satisfy 0 < lo <= hi <= 1, got {self.scale_range}")
        if not 0 <= self.occlusion <= 1:
            raise ValueError("occlusion is a fraction in [0, 1]")
        if self.background not in ("flat", "noise", "texture"):
            raise ValueError(f"unknown background {self.background!r}")


def as_world(world: WorldConfig | dict, image_size: int | None = None) -> WorldConfig:
    """``world`` as a ``WorldConfig``: jsonargparse may hand a nested dataclass over as a dict
    (with lists where the dataclass holds tuples).

    With ``image_size`` (a datamodule's ``image_size`` when it serves ShapesWorld), a world
    rendered at another size is a ``ConfigError``: ShapesWorld draws at the size it serves.
    """
    if not isinstance(world, WorldConfig):
        world = WorldConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in world.items()})
    if image_size is not None and world.image_size != image_size:
        raise ConfigError(f"data.init_args.world.image_size={world.image_size} differs from "
                          f"data.init_args.image_size={image_size}; ShapesWorld renders at the size "
                          "it serves: set both the same")
    return world


def make_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one sample: a separate stream per (seed, split, index)."""
    return np.random.default_rng([seed, SPLIT_IDS[split], index])


@dataclass(frozen=True)
class ShapeObject:
    """One labelled object. ``size`` is the circumscribed diameter in pixels, ``angle`` radians
    (positive = clockwise on screen, since image y points down), ``depth`` its drawing order."""

    kind: str
    label: int
    cx: float
    cy: float
    size: float
    angle: float
    color: tuple[int, int, int]
    color_name: str
    depth: int = 0

    def draw(
        self, draw: ImageDraw.ImageDraw, fill: int | tuple[int, int, int] | None = None
    ) -> None:
        """Rasterise into ``draw`` with ``fill`` (defaults to the object's colour)."""
        color = self.color if fill is None else fill
        SHAPES[self.kind].draw(draw, self.cx, self.cy, self.size, self.angle, color)


@dataclass(frozen=True)
class Clutter:
    """A distractor: a thin polyline (``stroke``) or a small axis-aligned ellipse (``blob``)."""

    kind: Literal["stroke", "blob"]
    points: tuple[float, ...]  # stroke: x0, y0, x1, y1, ...; blob: bounding box x0, y0, x1, y1
    color: tuple[int, int, int]
    width: int = 1

    def draw(self, draw: ImageDraw.ImageDraw) -> None:
        if self.kind == "stroke":
            draw.line(self.points, fill=self.color, width=self.width)
        else:
            draw.ellipse(self.points, fill=self.color)


@dataclass(frozen=True)
class Scene:
    """A full description of one image; ``objects`` are in depth order (last on top)."""

    size: int
    background: Background
    clutter: tuple[Clutter, ...] = ()
    objects: tuple[ShapeObject, ...] = ()
    palette: tuple[str, ...] = field(default=(), compare=False)  # colours that contrast with bg


class Rendered(NamedTuple):
    """Output of ``render``: image (H, W, 3) uint8; full/visible masks (N, H, W) bool or None."""

    image: np.ndarray
    full: np.ndarray | None
    visible: np.ndarray | None


def object_mask(obj: ShapeObject, size: int) -> np.ndarray:
    """The full (unoccluded) mask of one object, (size, size) bool."""
    m = Image.new("L", (size, size))
    obj.draw(ImageDraw.Draw(m), 255)
    return np.asarray(m) > 0


def sample_clutter(rng: np.random.Generator | Stream, cfg: WorldConfig) -> tuple[Clutter, ...]:
    """``cfg.clutter`` strokes and blobs, each smaller than the smallest allowed object."""
    r = as_stream(rng)
    s = cfg.image_size
    small = cfg.scale_range[0] * s  # smallest object diameter: every distractor stays below it
    width = max(1, round(s / 64))
    items = []
    for _ in range(cfg.clutter):
        color = (r.integers(256), r.integers(256), r.integers(256))
        x, y = r.uniform(0, s), r.uniform(0, s)
        if r.random() < 0.6:
            pts = [x, y]
            for _ in range(r.integers(1, 3)):  # one or two segments, a short scribble
                a, length = r.uniform(0, 2 * math.pi), r.uniform(0.3, 0.7) * small
                x, y = x + length * math.cos(a), y + length * math.sin(a)
                pts += [x, y]
            items.append(Clutter("stroke", tuple(pts), color, width))
        else:
            rx, ry = r.uniform(0.08, 0.25) * small, r.uniform(0.08, 0.25) * small
            items.append(Clutter("blob", (x - rx, y - ry, x + rx, y + ry), color))
    return tuple(items)


def occlusion_ok(full: list[np.ndarray], new: np.ndarray, occlusion: float) -> bool:
    """Whether drawing ``new`` on top keeps every earlier object at most ``occlusion`` hidden."""
    above = new.copy()
    for m in reversed(full):  # later objects first: what covers m is the union of those above it
        area = m.sum()
        if area and (m & above).sum() > occlusion * area:
            return False
        above |= m
    return True


def sample_scene(
    rng: np.random.Generator | Stream,
    cfg: WorldConfig,
    n_objects: int,
    dominant: bool = False,
    tries: int = 20,
) -> Scene:
    """Draw a scene with up to ``n_objects`` objects over a background with clutter.

    Objects are placed fully inside the image, one at a time on top of the previous ones; a
    placement that would hide any object more than ``cfg.occlusion`` is redrawn, and after
    ``tries`` failures the object is dropped (the first object always fits).

    Args:
        rng: The sample's generator (see ``make_rng``) or a ``Stream`` over it.
        cfg: World settings.
        n_objects: Objects wanted.
        dominant: Make the first object clearly the largest (upper half of ``scale_range``,
            the others at most 0.6 of its size or the smallest allowed size), for views
            labelled by their largest object.
        tries: Placement attempts per object.

    Returns:
        The scene; colours are distinct palette entries while the palette allows.
    """
    r = as_stream(rng)
    s = cfg.image_size
    bg, names = sample_background(r, cfg.background, cfg.min_contrast, min(n_objects, 3))
    clutter = sample_clutter(r, cfg)
    order = r.permutation(len(names))  # distinct colours first, repeats only if we run out
    lo, hi = cfg.scale_range
    objects: list[ShapeObject] = []
    masks: list[np.ndarray] = []
    for i in range(n_objects):
        if dominant and i == 0:
            frac = r.uniform((lo + hi) / 2, hi)
        elif dominant and objects:
            frac = r.uniform(lo, max(lo, 0.6 * objects[0].size / s))
        else:
            frac = r.uniform(lo, hi)
        size = frac * s
        k = r.integers(len(cfg.kinds))
        name = names[order[i % len(names)]]
        color = jittered_color(r, name, cfg.color_jitter)
        angle = r.uniform(0, 2 * math.pi)  # drawn either way: the rest of the scene's draws stay in step
        if not cfg.rotation:
            angle = 0.0
        for _ in range(tries):
            cx, cy = r.uniform(size / 2, s - size / 2), r.uniform(size / 2, s - size / 2)
            obj = ShapeObject(cfg.kinds[k], k, cx, cy, size, angle, color, name, len(objects))
            if n_objects == 1:  # nothing to occlude: skip the mask work (classification hot path)
                break
            m = object_mask(obj, s)
            if occlusion_ok(masks, m, cfg.occlusion):
                masks.append(m)
                break
        else:
            continue  # could not place it without hiding others too much: drop
        objects.append(obj)
    return Scene(s, bg, clutter, tuple(objects), names)


def render_image(scene: Scene) -> Image.Image:
    """Draw ``scene`` as a PIL RGB image, without masks (the fast path)."""
    img = render_background(scene.background, scene.size)
    draw = ImageDraw.Draw(img)
    for c in scene.clutter:
        c.draw(draw)
    for obj in scene.objects:
        obj.draw(draw)
    return img


def render(scene: Scene, masks: bool = False) -> Rendered:
    """Draw ``scene`` as a uint8 (H, W, 3) array; with ``masks`` also full and visible masks.

    With masks, colours are composited through the masks themselves, so a visible mask is
    exactly the set of pixels showing that object's colour.
    """
    if not masks:
        return Rendered(np.asarray(render_image(scene)), None, None)
    s, n = scene.size, len(scene.objects)
    arr = np.array(render_image(replace(scene, objects=())))
    full = np.zeros((n, s, s), bool)
    for i, obj in enumerate(scene.objects):
        full[i] = object_mask(obj, s)
        arr[full[i]] = obj.color
    visible = full.copy()
    above = np.zeros((s, s), bool)
    for i in range(n - 1, -1, -1):  # top to bottom: each object loses what lies above it
        visible[i] &= ~above
        above |= full[i]
    return Rendered(arr, full, visible)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight xyxy boxes (N, 4) float32 in pixel-edge coordinates of (N, H, W) bool masks.

    A mask covering columns 3..5 gets x0=3, x1=6, the torchvision/COCO convention where
    ``x1 - x0`` is the width in pixels. Empty masks give a zero box.
    """
    boxes = np.zeros((len(masks), 4), np.float32)
    for i, m in enumerate(masks):
        cols, rows = np.flatnonzero(m.any(0)), np.flatnonzero(m.any(1))
        if len(cols):
            boxes[i] = cols[0], rows[0], cols[-1] + 1, rows[-1] + 1
    return boxes
