"""Normalising a whole batch of 0..255 pixels in one op, as every family's collate does.

Per-sample normalisation costs a transform call per image in the loader; on the stacked batch
it is one vectorised op (see ``classification._BatchFlipNormalize`` for the measured gain).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class PixelNormalize:
    """``(x - 255 mean) / (255 std)`` per channel, for 0..255 pixels (uint8 or float).

    Args:
        mean: per-channel mean of pixels in [0, 1].
        std: per-channel standard deviation of pixels in [0, 1].
        channel_dim: the channel axis counted from the end: -3 for images ``(..., 3, H, W)``,
            -4 for clips ``(..., 3, T, H, W)``.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], channel_dim: int = -3) -> None:
        shape = (-1,) + (1,) * (-channel_dim - 1)  # 3 or 1 channels; broadcasts over the axes after them
        self.mean = torch.tensor(mean).view(shape) * 255
        self.std = torch.tensor(std).view(shape) * 255

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.float() - self.mean) / self.std
