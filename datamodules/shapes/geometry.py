"""The shape library of ShapesWorld: unit outlines and how to rasterise each kind with PIL.

Every kind is defined at circumradius 1 around the origin, so an object's ``size`` (diameter of
its circumscribed circle) bounds it whatever its rotation, which keeps placement inside the image
a one-line check. Kinds are chosen to stay distinguishable at 32-64 px: the diamond is a thin
rhombus (a square rotated 45 degrees would otherwise be the same class under random rotation),
and pentagon/hexagon, which blur into circles at small sizes, are available but not default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw


def _regular(n: int, start: float = -np.pi / 2) -> np.ndarray:
    t = start + np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(t), np.sin(t)], 1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    t = -np.pi / 2 + np.arange(2 * points) * np.pi / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


def _cross(half_width: float = 0.33) -> np.ndarray:
    w = half_width
    a = np.sqrt(1 - w * w)  # arm length such that the arm corners touch the unit circle
    quarter = [(a, -w), (a, w), (w, w)]
    pts = []
    for k in range(4):  # the same three corners rotated by 90 degrees each time
        c, s = np.cos(k * np.pi / 2), np.sin(k * np.pi / 2)
        pts += [(x * c - y * s, x * s + y * c) for x, y in quarter]
    return np.array(pts)


def _crescent(offset: float = 0.5, inner: float = 0.85, n: int = 24) -> np.ndarray:
    # Unit disc minus a disc of radius `inner` centred at (offset, 0): outer arc, then inner arc back.
    xi = (1 + offset**2 - inner**2) / (2 * offset)
    yi = np.sqrt(1 - xi**2)
    t0 = np.arctan2(yi, xi)
    outer = np.linspace(t0, 2 * np.pi - t0, n)
    u0 = np.arctan2(yi, xi - offset)
    inner_t = np.linspace(2 * np.pi - u0, u0, n)
    pts_o = np.stack([np.cos(outer), np.sin(outer)], 1)
    pts_i = np.stack([offset + inner * np.cos(inner_t), inner * np.sin(inner_t)], 1)
    return np.concatenate([pts_o, pts_i])


@dataclass(frozen=True)
class ShapeKind:
    """One object class.

    Attributes:
        name: Class name.
        outline: Unit polygon (V, 2) for polygon kinds; ``None`` for the round kinds drawn as ellipses.
        ring: Ring width as a fraction of the radius (``ring`` kind only, 0 for filled shapes).
        symmetry: Rotational order (rotation by 360/symmetry degrees maps it onto itself);
            0 means any rotation does, so rotation cannot be seen (``circle``, ``ring``).
    """

    name: str
    outline: np.ndarray | None
    ring: float = 0.0
    symmetry: int = 1

    def draw(
        self,
        draw: ImageDraw.ImageDraw,
        cx: float,
        cy: float,
        size: float,
        angle: float,
        fill: int | tuple[int, int, int],
    ) -> None:
        """Rasterise the shape (centre ``cx, cy``, circumscribed diameter ``size`` px) into ``draw``.

        The same call draws colour into an RGB image and 255 into an ``L`` mask, so masks and
        pixels come from the same rasteriser and agree exactly.
        """
        r = size / 2
        if self.outline is None:
            box = (cx - r, cy - r, cx + r, cy + r)
            if self.ring:
                draw.ellipse(box, outline=fill, width=max(1, round(self.ring * r)))
            else:
                draw.ellipse(box, fill=fill)
            return
        c, s = np.cos(angle), np.sin(angle)
        pts = self.outline @ np.array([[c, s], [-s, c]]) * r + (cx, cy)  # rotate, scale, move
        draw.polygon(pts.ravel().tolist(), fill=fill)


SHAPES: dict[str, ShapeKind] = {
    k.name: k
    for k in (
        ShapeKind("circle", None, symmetry=0),
        ShapeKind("square", _regular(4, np.pi / 4), symmetry=4),
        ShapeKind("triangle", _regular(3), symmetry=3),
        ShapeKind("star", _star(), symmetry=5),
        ShapeKind("cross", _cross(), symmetry=4),
        ShapeKind("diamond", np.array([(0, -1), (0.5, 0), (0, 1), (-0.5, 0)], float), symmetry=2),
        ShapeKind("ring", None, ring=0.4, symmetry=0),
        ShapeKind("crescent", _crescent(), symmetry=1),
        ShapeKind("pentagon", _regular(5), symmetry=5),
        ShapeKind("hexagon", _regular(6), symmetry=6),
    )
}

DEFAULT_KINDS = ("circle", "square", "triangle", "star", "cross", "diamond", "ring", "crescent")
