"""ShapesWorld clips: one shape moving, turning, scaling or standing still over a fixed scene.

Every class can start from any frame a single image shows, so only motion separates them: the
video-classification demo where single-frame baselines should sit near chance (1/9) while
3D convolutions and late fusion should not. Rotation-invariant kinds (circle, ring) are never
used, since their rotation cannot be seen, and a rotation step per frame stays below 40 % of
the shape's symmetry angle, so clockwise never aliases into anticlockwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import ImageDraw

from datamodules.shapes.backgrounds import jittered_color, sample_background
from datamodules.shapes.base import ShapesView
from datamodules.shapes.geometry import SHAPES
from datamodules.shapes.scene import (
    Scene,
    ShapeObject,
    Split,
    WorldConfig,
    object_mask,
    render_image,
    sample_clutter,
)

MOTIONS = (
    "move_left", "move_right", "move_up", "move_down",
    "rotate_cw", "rotate_ccw", "grow", "shrink", "still",
)  # fmt: skip
_OPPOSITE = {"move_left": "move_right", "move_up": "move_down", "rotate_cw": "rotate_ccw", "grow": "shrink"}
_OPPOSITE |= {v: k for k, v in _OPPOSITE.items()}
# The label of a clip mirrored left-right (left <-> right; a mirrored rotation turns the other way)
# and of a clip played backwards (every motion reverses; still stays still), by label index.
_MIRROR = {m: _OPPOSITE[m] if m in ("move_left", "move_right", "rotate_cw", "rotate_ccw") else m for m in MOTIONS}
_REVERSE = {m: _OPPOSITE.get(m, m) for m in MOTIONS}


def check_motions(motions: Sequence[str]) -> tuple[str, ...]:
    """``motions`` as a tuple, or a ``ValueError`` naming what is wrong with it."""
    unknown = [m for m in motions if m not in MOTIONS]
    if unknown:
        raise ValueError(f"unknown motion(s) {unknown}; ShapesWorld clips know {list(MOTIONS)}")
    if len(set(motions)) != len(motions) or len(motions) < 2:
        raise ValueError(f"motions {list(motions)}: need two or more, each once")
    return tuple(motions)


def check_rotation_step(rotation_step: Sequence[float]) -> tuple[float, float]:
    """``rotation_step`` as ``(low, high)`` degrees a frame, or a ``ValueError`` naming what is wrong."""
    low, high = rotation_step
    if not 0 < low <= high:
        raise ValueError(f"rotation_step={list(rotation_step)}: need 0 < low <= high "
                         "(degrees a ShapesWorld shape turns per frame)")
    return float(low), float(high)


def label_maps(motions: Sequence[str]) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """Labels of a mirrored and of a time-reversed clip, by label index within ``motions``.

    A map is None where a motion's counterpart is not among ``motions`` (e.g. ``move_left``
    without ``move_right``): such a subset cannot be flipped or reversed with a label.
    """
    def remap(table: dict[str, str]) -> tuple[int, ...] | None:
        if any(table[m] not in motions for m in motions):
            return None
        return tuple(motions.index(table[m]) for m in motions)

    return remap(_MIRROR), remap(_REVERSE)


MIRRORED, REVERSED = label_maps(MOTIONS)  # every motion has its counterpart: neither is None


@dataclass(frozen=True)
class ClipScene:
    """A static ``Scene`` (background, clutter) and the moving object in each frame."""

    base: Scene
    frames: tuple[ShapeObject, ...]
    label: int


class ShapesClips(ShapesView):
    """Short clips of one moving shape; the label is the motion.

    Positive angles turn clockwise on screen (image y points down), so ``rotate_cw`` increases
    ``ShapeObject.angle`` over the clip.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of clips.
        config: World settings (``kinds`` minus circle/ring, ``scale_range``, background, clutter).
        num_frames: Frames per clip (T).
        transform: Optional callable applied to the clip tensor.
        motions: The classes, a subset of ``MOTIONS`` (e.g. only cw/ccw, to study one distinction
            alone); label k is ``motions[k]``. All nine draw the same clips as before subsets existed.
        rotation_step: (low, high) degrees a rotating shape turns per frame, drawn uniformly per
            clip; both are capped below 40 % of the kind's symmetry angle. Other motions and the
            random draws of every clip do not depend on it.

    Returns (per item):
        ``(clip, label)``: uint8 tensor (3, T, H, W) and an int indexing ``classes``.
    """

    def __init__(
        self,
        split: Split = "train",
        size: int = 1000,
        config: WorldConfig | None = None,
        num_frames: int = 16,
        transform: Callable[[torch.Tensor], Any] | None = None,
        motions: Sequence[str] = MOTIONS,
        rotation_step: tuple[float, float] = (4.0, 12.0),
    ) -> None:
        super().__init__(split, size, config)
        if num_frames < 2:
            raise ValueError("a clip needs at least two frames to show motion")
        self.rotation_step = check_rotation_step(rotation_step)
        self.motions = check_motions(motions)
        self.num_frames = num_frames
        self.transform = transform
        self.kinds = [k for k in self.config.kinds if SHAPES[k].symmetry != 0]
        if not self.kinds:
            raise ValueError(f"no kind in {self.config.kinds} shows rotation; add e.g. 'square'")

    @property
    def classes(self) -> list[str]:  # motions, not shape kinds
        return list(self.motions)

    @property
    def num_classes(self) -> int:
        return len(self.motions)

    def scene(self, index: int) -> ClipScene:
        r, cfg = self.stream(index), self.config
        s, t_max = cfg.image_size, self.num_frames - 1
        bg, palette = sample_background(r, cfg.background, cfg.min_contrast, 1)
        base = Scene(s, bg, sample_clutter(r, cfg), (), palette)
        label = r.integers(len(self.motions))
        motion = self.motions[label]
        kind = r.choice(self.kinds)
        name = r.choice(palette)
        lo, hi = cfg.scale_range
        size0 = size1 = r.uniform(lo, min(hi, 0.45)) * s
        if motion in ("grow", "shrink"):  # at least 1.5x over the clip, both ends inside [lo, 0.8]
            small = r.uniform(0.8 * lo, max(0.8 * lo, min(hi, 0.8) / 1.5)) * s
            size0, size1 = small, min(small * r.uniform(1.5, 2.0), 0.8 * s)
            if motion == "shrink":
                size0, size1 = size1, size0
        radius = max(size0, size1) / 2
        cx0, cy0 = r.uniform(radius, s - radius), r.uniform(radius, s - radius)
        dx = dy = 0.0
        if motion.startswith("move"):
            dist = min(r.uniform(0.25, 0.45) * s, s - 2 * radius)
            axis, sign = {"left": (0, -1), "right": (0, 1), "up": (1, -1), "down": (1, 1)}[
                motion.split("_")[1]
            ]
            start = r.uniform(radius, s - radius - dist)  # room for the whole path
            start = start if sign > 0 else s - start  # moving back: start from the far side
            if axis == 0:
                cx0, dx = start, sign * dist
            else:
                cy0, dy = start, sign * dist
        angle0, turn = r.uniform(0, 2 * math.pi), 0.0
        if motion.startswith("rotate"):
            cap = 0.4 * 2 * math.pi / SHAPES[kind].symmetry  # stay clear of the symmetry alias
            high = min(math.radians(self.rotation_step[1]), cap)
            step = r.uniform(min(math.radians(self.rotation_step[0]), high), high)
            turn = (1 if motion == "rotate_cw" else -1) * step * t_max
        obj = ShapeObject(
            kind,
            self.config.kinds.index(kind),
            cx0,
            cy0,
            size0,
            angle0,
            jittered_color(r, name, cfg.color_jitter),
            name,
        )
        frames = tuple(
            replace(
                obj,
                cx=cx0 + dx * f,
                cy=cy0 + dy * f,
                size=size0 + (size1 - size0) * f,
                angle=angle0 + turn * f,
            )
            for f in (t / t_max for t in range(self.num_frames))
        )
        return ClipScene(base, frames, label)

    def object_masks(self, index: int) -> torch.Tensor:
        """The moving shape's mask in every frame of clip ``index``, bool ``(T, H, W)``.

        The shape is drawn last, over the static clutter, so its full mask is what each frame
        shows of it. For measuring where an explanation points (``experiments.explain``).
        """
        clip = self.scene(index)
        return torch.from_numpy(np.stack([object_mask(obj, clip.base.size) for obj in clip.frames]))

    def __getitem__(self, index: int) -> tuple[Any, int]:
        clip = self.scene(index)
        background = render_image(clip.base)  # drawn once: the scene is static
        frames = []
        for obj in clip.frames:
            img = background.copy()
            obj.draw(ImageDraw.Draw(img))
            frames.append(np.asarray(img))
        video = torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).contiguous()  # (3,T,H,W)
        return (self.transform(video) if self.transform else video), clip.label
