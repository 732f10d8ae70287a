"""A cheap scalar random stream over a numpy ``Generator``.

Scene sampling needs a few dozen scalars per image; each scalar ``Generator`` call costs about
1-10 us of Python/numpy overhead, which alone would exceed the 0.5 ms budget of a sample. This
wrapper draws uniforms in blocks and hands them out one at a time, so the stream stays a pure
function of the generator's seed (deterministic) while costing well under a microsecond a draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class Stream:
    """Scalar draws (uniform, integer, choice, normal, permutation) from a seeded generator.

    Args:
        rng: The sample's generator; array draws may still use it through ``.rng``.
        block: Uniforms drawn per refill.
    """

    def __init__(self, rng: np.random.Generator, block: int = 64) -> None:
        self.rng = rng
        self._block = block
        self._buf: list[float] = []

    def random(self) -> float:
        """One uniform in [0, 1)."""
        if not self._buf:
            self._buf = self.rng.random(self._block).tolist()[::-1]
        return self._buf.pop()

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def integers(self, lo: int, hi: int | None = None) -> int:
        """An integer in [lo, hi) (or [0, lo) with one argument), like ``Generator.integers``."""
        if hi is None:
            lo, hi = 0, lo
        return lo + min(int(self.random() * (hi - lo)), hi - lo - 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.integers(len(seq))]

    def normal(self, mean: float = 0.0, std: float = 1.0) -> float:
        # Box-Muller; 1 - u keeps the log argument in (0, 1].
        u1, u2 = 1.0 - self.random(), self.random()
        return mean + std * math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)

    def permutation(self, n: int) -> list[int]:
        """A random permutation of range(n) (Fisher-Yates)."""
        out = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.integers(i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def as_stream(rng: np.random.Generator | Stream) -> Stream:
    """Wrap a generator (public functions take either, so callers can share one stream)."""
    return rng if isinstance(rng, Stream) else Stream(rng)
