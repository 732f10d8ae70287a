"""ShapesWorld captions: several true sentences per scene from a small grammar.

Colours are named from the fixed palette the objects were drawn from, sizes are the thirds of
``scale_range``, relations compare centres with a margin, and the background is named by its
style, so every caption is true of its image. Captions are lower case, words separated by single
spaces, no punctuation: ``caption.split()`` is the tokenisation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import torch

from datamodules.shapes.backgrounds import BACKGROUND_ADJECTIVES, PALETTE
from datamodules.shapes.base import ShapesView, to_tensor
from datamodules.shapes.rand import Stream
from datamodules.shapes.scene import (
    Scene,
    ShapeObject,
    Split,
    WorldConfig,
    render_image,
    sample_scene,
)

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
RELATIONS = ("to the left of", "to the right of", "above", "below")
FUNCTION_WORDS = ("a", "an", "and", "on", "there", "is", "are", "background", "small", "large")


def plural(kind: str) -> str:
    return kind + ("es" if kind.endswith(("s", "x", "sh", "ch")) else "s")


def with_article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def size_word(obj: ShapeObject, cfg: WorldConfig) -> str | None:
    """``small``/``large`` for the lower/upper third of ``scale_range``, else nothing."""
    lo, hi = cfg.scale_range
    t = (obj.size / cfg.image_size - lo) / max(hi - lo, 1e-9)
    return "small" if t < 1 / 3 else "large" if t > 2 / 3 else None


def describe(r: Stream, obj: ShapeObject, cfg: WorldConfig) -> str:
    """``a [small|large] [colour] kind``, adjectives included at random."""
    words = []
    size = size_word(obj, cfg)
    if size and r.random() < 0.6:
        words.append(size)
    if r.random() < 0.8:
        words.append(obj.color_name)
    return with_article(" ".join([*words, obj.kind]))


def relation(a: ShapeObject, b: ShapeObject, image_size: int) -> str | None:
    """Where ``a`` is relative to ``b`` along the clearer axis, or None if centres are too close."""
    dx, dy = a.cx - b.cx, a.cy - b.cy
    if max(abs(dx), abs(dy)) < 0.15 * image_size:
        return None
    if abs(dx) >= abs(dy):
        return RELATIONS[0] if dx < 0 else RELATIONS[1]
    return RELATIONS[2] if dy < 0 else RELATIONS[3]


def counts(objects: tuple[ShapeObject, ...]) -> tuple[str, bool]:
    """``two circles and a star`` and whether the verb before it is plural."""
    ranked = Counter(o.kind for o in objects).most_common()
    parts = [with_article(k) if n == 1 else f"{NUMBERS[n]} {plural(k)}" for k, n in ranked]
    return " and ".join(parts), ranked[0][1] > 1


def caption(r: Stream, scene: Scene, cfg: WorldConfig) -> str:
    """One random true caption of ``scene``; every template names at least one object kind."""
    objs = scene.objects
    bg = scene.background.adjective
    a = objs[r.integers(len(objs))]
    templates = ["count_bg", "there", "single_bg"]
    if len(objs) > 1:
        b = objs[(objs.index(a) + 1 + r.integers(len(objs) - 1)) % len(objs)]  # another object
        rel = relation(a, b, cfg.image_size)
        templates.append("pair")
        if rel:
            templates += ["relation", "relation", "relation_bg"]  # favour the informative one
    t = r.choice(templates)
    if t == "count_bg":
        return f"{counts(objs)[0]} on a {bg} background"
    if t == "there":
        phrase, many = counts(objs)
        return f"there {'are' if many else 'is'} {phrase}"
    if t == "single_bg":
        return f"{describe(r, a, cfg)} on a {bg} background"
    if t == "pair":
        return f"{describe(r, a, cfg)} and {describe(r, b, cfg)}"
    sentence = f"{describe(r, a, cfg)} {rel} {describe(r, b, cfg)}"
    return f"{sentence} on a {bg} background" if t == "relation_bg" else sentence


def vocabulary(cfg: WorldConfig) -> list[str]:
    """Every word the grammar can produce for ``cfg``, sorted."""
    words = set(FUNCTION_WORDS) | set(BACKGROUND_ADJECTIVES) | set(PALETTE)
    words |= set(" ".join(RELATIONS).split())
    words |= set(cfg.kinds) | {plural(k) for k in cfg.kinds}
    words |= set(NUMBERS[2 : cfg.max_objects + 1])
    return sorted(words)


class ShapesCaptions(ShapesView):
    """Multi-object scenes with several grammar captions each.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples.
        config: World settings; ``max_objects`` must be at most 10 (number words).
        captions_per_image: Captions per image (5, as in COCO); distinct where the scene allows.
        transform: Optional callable applied to the image tensor.

    Returns (per item):
        ``(image, captions)``: uint8 tensor (3, H, W) and a list of ``captions_per_image`` str.
    """

    def __init__(
        self,
        split: Split = "train",
        size: int = 1000,
        config: WorldConfig | None = None,
        captions_per_image: int = 5,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        super().__init__(split, size, config)
        if self.config.max_objects >= len(NUMBERS):
            raise ValueError(f"captions count up to {len(NUMBERS) - 1} objects")
        self.captions_per_image = captions_per_image
        self.transform = transform
        self.vocabulary_words = vocabulary(self.config)

    def _sample(self, index: int) -> tuple[Scene, list[str]]:
        r, cfg = self.stream(index), self.config
        scene = sample_scene(r, cfg, r.integers(cfg.min_objects, cfg.max_objects + 1))
        found: list[str] = []
        for _ in range(8 * self.captions_per_image):  # distinct captions while they come easily
            c = caption(r, scene, cfg)
            if c not in found:
                found.append(c)
            if len(found) == self.captions_per_image:
                break
        # Tiny scenes may have fewer distinct captions: repeat them rather than run short.
        return scene, (found * self.captions_per_image)[: self.captions_per_image]

    def scene(self, index: int) -> Scene:
        return self._sample(index)[0]

    def captions(self, index: int) -> list[str]:
        return self._sample(index)[1]

    def __getitem__(self, index: int) -> tuple[Any, list[str]]:
        scene, caps = self._sample(index)
        image = to_tensor(render_image(scene))
        return (self.transform(image) if self.transform else image), caps
