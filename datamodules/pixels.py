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


class LeCunNormalize:
    """LeNet-5's input normalisation (LeCun et al. 1998, Sec. III.A), per image and polarity-free.

    The paper maps the background level (white) to -0.1 and the foreground (black) to 1.175, "which makes
    the mean input roughly 0, and the variance roughly 1". MNIST's levels are fixed; on ShapesWorld the
    background's and the object's grey levels vary from image to image, with either polarity, so both are
    found per image. Background: the median of the border pixels. Foreground: of the pixels farther than
    ``min_range`` from the background, the side (lighter or darker) that holds more of them, and their median
    level on that side. The object is the largest thing in the frame, so counting pixels finds its side even
    when a small distractor has more contrast (the farthest pixel got the polarity wrong on 12 % of the
    demo world's images: the distractor blobs), and the median is its level. Then
    ``x -> -0.1 + 1.275 (x - bg) / (fg - bg)``: background -0.1, object 1.175, lighter or darker alike.

    Args:
        min_range: pixel distance from the background that counts as foreground, and the smallest
            ``|fg - bg|`` (an image without an object is not blown up); in the input's units (0-255 here).

    Call on pixels ``(B, C, H, W)`` (C = 1; more channels share one level pair), float output.
    """

    def __init__(self, min_range: float = 2.0) -> None:
        self.min_range = min_range

    def levels(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Background and foreground levels, each ``(B,)``."""
        x = images.float().mean(-3)  # (B, H, W): channels averaged
        border = torch.cat([x[:, 0, :], x[:, -1, :], x[:, 1:-1, 0], x[:, 1:-1, -1]], 1)  # (B, 2H + 2W - 4)
        bg = border.median(1).values
        d = (x - bg.view(-1, 1, 1)).flatten(1)  # (B, H W) signed distances
        lighter, darker = d > self.min_range, d < -self.min_range
        sign = torch.where(lighter.sum(1) >= darker.sum(1), 1.0, -1.0)  # (B,)
        side = torch.where(sign.view(-1, 1) > 0, lighter, darker)
        dist = torch.where(side, d * sign.view(-1, 1), torch.nan).nanmedian(1).values  # nan: no such pixel
        span = sign * torch.nan_to_num(dist, nan=self.min_range).clamp(min=self.min_range)
        return bg, bg + span

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        bg, fg = self.levels(images)
        shape = (-1,) + (1,) * (images.ndim - 1)
        return -0.1 + 1.275 * (images.float() - bg.view(shape)) / (fg - bg).view(shape)
