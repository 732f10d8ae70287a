"""ShapesWorld pose view: articulated stick figures with 14 COCO-style keypoints.

Figures always face the viewer, with the torso tilted at most ~20 degrees, so "left" is the
figure's own left (on the image's right when upright), the COCO/MPII convention. That keeps
left and right decidable from the image, which a symmetric stick figure would otherwise not be.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image, ImageDraw

from datamodules.shapes.backgrounds import jittered_color, sample_background
from datamodules.shapes.base import ShapesView, to_tensor
from datamodules.shapes.rand import Stream
from datamodules.shapes.scene import (
    Scene,
    Split,
    WorldConfig,
    mask_boxes,
    occlusion_ok,
    render_image,
    sample_clutter,
)

JOINT_NAMES = (
    "head", "neck",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
FLIP_PAIRS = [(2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13)]
SKELETON = [
    (0, 1), (2, 3), (2, 4), (4, 6), (3, 5), (5, 7),  # head, shoulders, arms
    (1, 8), (1, 9), (8, 9), (8, 10), (10, 12), (9, 11), (11, 13),  # torso, legs
]  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """One stick figure: joints (14, 2) in pixels, limb width and head radius in pixels."""

    joints: np.ndarray
    width: int
    head_radius: float
    color: tuple[int, int, int]
    color_name: str

    def draw(self, draw: ImageDraw.ImageDraw, fill: int | tuple[int, int, int]) -> None:
        pts = self.joints.tolist()
        for a, b in SKELETON:
            draw.line(pts[a] + pts[b], fill=fill, width=self.width)
        r = max(1, self.width // 2)  # round joints, so bent limbs do not show gaps
        for x, y in pts[1:]:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        hx, hy = pts[0]
        h = self.head_radius
        draw.ellipse((hx - h, hy - h, hx + h, hy + h), fill=fill)

    def mask(self, size: int) -> np.ndarray:
        m = Image.new("L", (size, size))
        self.draw(ImageDraw.Draw(m), 255)
        return np.asarray(m) > 0


def _unit_figure(r: Stream) -> np.ndarray:
    """Joints (14, 2) of a random pose, figure height ~1, pelvis at the origin (y down)."""
    tilt = r.uniform(-0.35, 0.35)
    down = np.array([math.sin(tilt), math.cos(tilt)])
    left = np.array([math.cos(tilt), -math.sin(tilt)])  # the figure's left = image right

    def limb(side: float, angle: float) -> np.ndarray:
        # angle 0 points along the body downwards, pi/2 straight out to that side, pi up.
        return math.cos(angle) * down + math.sin(angle) * side * left

    j = np.zeros((14, 2))
    j[1] = -0.30 * down  # neck
    j[0] = j[1] + 0.12 * limb(1, math.pi + r.uniform(-0.3, 0.3))  # head above the neck, tilted
    for side, (sh, el, wr, hp, kn, an) in ((1, (2, 4, 6, 8, 10, 12)), (-1, (3, 5, 7, 9, 11, 13))):
        j[sh] = j[1] + 0.11 * side * left
        a1 = r.uniform(-0.3, 2.8)  # upper arm: hanging down .. raised above the head
        j[el] = j[sh] + 0.15 * limb(side, a1)
        j[wr] = j[el] + 0.14 * limb(side, a1 + r.uniform(-2.4, 0.5))
        j[hp] = 0.07 * side * left
        t1 = r.uniform(-0.25, 1.2)  # thigh: slightly crossed .. kicked out sideways
        j[kn] = j[hp] + 0.22 * limb(side, t1)
        j[an] = j[kn] + 0.21 * limb(side, t1 + r.uniform(-1.4, 0.4))
    return j


def sample_figure(
    r: Stream, size: int, scale: tuple[float, float], color_name: str, jitter: float
) -> Figure:
    """A random figure of height in ``scale`` (fraction of ``size``), fully inside the image."""
    unit = _unit_figure(r)
    height = r.uniform(*scale) * size
    head = 0.075
    lo = unit.min(0) - head
    hi = unit.max(0) + head
    height = min(height, (size - 4) / float((hi - lo).max()))  # shrink wide poses to fit
    width = max(2, round(r.uniform(0.03, 0.05) * height))
    span = (hi - lo) * height
    offset = np.array([r.uniform(1, size - 1 - span[0]), r.uniform(1, size - 1 - span[1])])
    # Integer joints: PIL puts integer coordinates on pixel centres, so a keypoint lands on the
    # pixel the figure was drawn through, with no half-pixel rounding ambiguity.
    joints = np.round((unit - lo) * height + offset)
    color = jittered_color(r, color_name, jitter)
    return Figure(joints, width, max(2.0, head * height), color, color_name)


@dataclass(frozen=True)
class PoseScene:
    """Background and clutter (as a ``Scene`` without objects) plus figures in depth order."""

    base: Scene
    figures: tuple[Figure, ...]


class ShapesPose(ShapesView):
    """Stick figures with COCO-style keypoints on ShapesWorld backgrounds with clutter.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples.
        config: World settings (``image_size``, ``background``, ``clutter``, ``occlusion``).
        max_people: Figures per image are drawn from ``1..max_people``; a figure that would
            hide another more than ``config.occlusion`` is dropped.
        scale_range: Figure height as a fraction of the image side.
        transforms: Optional callable ``(image, target) -> (image, target)``.

    Returns (per item):
        ``(image, target)``: image uint8 (3, H, W); target dict with ``keypoints`` float32
        (P, 14, 3) as (x, y, visibility): x, y in the boxes' pixel frame (pixel i spans
        [i, i + 1)), visibility 2 = visible, 1 = hidden behind a later figure (COCO
        convention; figures lie fully inside the image, so 0 never occurs),
        ``boxes`` float32 (P, 4) xyxy of the visible figure, ``labels`` int64 (P,) all 1.
    """

    joint_names: ClassVar[list[str]] = list(JOINT_NAMES)
    flip_pairs: ClassVar[list[tuple[int, int]]] = FLIP_PAIRS
    skeleton: ClassVar[list[tuple[int, int]]] = SKELETON
    classes: ClassVar[list[str]] = ["person"]  # box label 1; 0 stays background

    def __init__(
        self,
        split: Split = "train",
        size: int = 1000,
        config: WorldConfig | None = None,
        max_people: int = 2,
        scale_range: tuple[float, float] = (0.55, 0.95),
        transforms: Callable[[torch.Tensor, Any], tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__(split, size, config)
        self.max_people = max_people
        self.scale_range = scale_range
        self.transforms = transforms

    @property
    def num_classes(self) -> int:
        return 1

    @property
    def num_joints(self) -> int:
        return len(JOINT_NAMES)

    def scene(self, index: int, tries: int = 20) -> PoseScene:
        r, cfg = self.stream(index), self.config
        s = cfg.image_size
        bg, palette = sample_background(r, cfg.background, cfg.min_contrast, self.max_people)
        base = Scene(s, bg, sample_clutter(r, cfg), (), palette)
        figures: list[Figure] = []
        masks: list[np.ndarray] = []
        order = r.permutation(len(palette))  # distinct colours, so overlapping figures separate
        for i in range(r.integers(1, self.max_people + 1)):
            name = palette[order[i % len(palette)]]
            for _ in range(tries):
                fig = sample_figure(r, s, self.scale_range, name, cfg.color_jitter)
                m = fig.mask(s)
                if occlusion_ok(masks, m, cfg.occlusion):
                    figures.append(fig)
                    masks.append(m)
                    break
        return PoseScene(base, tuple(figures))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        scene = self.scene(index)
        s = self.config.image_size
        arr = np.array(render_image(scene.base))
        full = np.stack([f.mask(s) for f in scene.figures])  # (P, H, W)
        for fig, m in zip(scene.figures, full):
            arr[m] = fig.color
        visible = full.copy()
        for i in range(len(full) - 2, -1, -1):  # what later figures cover is hidden
            visible[i] &= ~full[i + 1 :].any(0)
        kps = np.zeros((len(full), len(JOINT_NAMES), 3), np.float32)
        for i, fig in enumerate(scene.figures):
            # Joints are integer PIL coordinates, i.e. pixel centres; +0.5 puts them in the
            # pixel-edge frame of the boxes (pixel i spans [i, i + 1)).
            kps[i, :, :2] = fig.joints + 0.5
            ix = fig.joints.astype(int)
            kps[i, :, 2] = np.where(visible[i, ix[:, 1], ix[:, 0]], 2, 1)
        target = {
            "keypoints": torch.from_numpy(kps),
            "boxes": torch.from_numpy(mask_boxes(visible)),
            "labels": torch.ones(len(full), dtype=torch.int64),
        }
        image = to_tensor(arr)
        return self.transforms(image, target) if self.transforms else (image, target)
