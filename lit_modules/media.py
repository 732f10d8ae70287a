"""Helpers for the W&B media each family logs (``wandb_media``); plain torch + numpy."""

from __future__ import annotations

import io

import numpy as np
from torch import Tensor


def to_display(images: Tensor) -> np.ndarray:
    """Normalised images ``(B, 3, H, W)`` (or grayscale ``(B, 1, H, W)``) -> uint8 ``(B, H, W, 3)``, each
    stretched to its own range.

    The module does not know the dataset's mean/std; a per-image stretch shows what the network
    saw without it.
    """
    x = images.detach().float().cpu()
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x  # grayscale: the same grey in R, G, B
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    x = (x - lo) / (hi - lo).clamp_min(1e-6)
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def clips_to_display(clips: Tensor, scale: int = 1) -> np.ndarray:
    """Clips ``(B, 3, T, H, W)`` -> uint8 ``(B, T, 3, H*scale, W*scale)`` (``wandb.Video``'s layout).

    Each clip is stretched to its own range (as ``to_display``); ``scale`` enlarges tiny clips
    (3x3 filters, 32 px demos) by pixel repetition.
    """
    x = clips.detach().float().cpu()
    lo = x.amin(dim=(1, 2, 3, 4), keepdim=True)
    hi = x.amax(dim=(1, 2, 3, 4), keepdim=True)
    x = ((x - lo) / (hi - lo).clamp_min(1e-6)).transpose(1, 2)  # (B, T, 3, H, W)
    x = x.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    return (x.numpy() * 255).round().astype(np.uint8)


def gif_bytes(frames: np.ndarray, fps: float = 4) -> io.BytesIO:
    """uint8 frames ``(T, 3, H, W)`` -> an animated GIF in memory, for ``wandb.Video(buf, format="gif")``.

    Encoded with PIL, so W&B video media need no moviepy/ffmpeg extra.
    """
    from PIL import Image

    images = [Image.fromarray(f.transpose(1, 2, 0)) for f in frames]
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    buf.seek(0)
    return buf


def sample_grid(images: Tensor, nrow: int = 8, padding: int = 2) -> np.ndarray:
    """Generated images ``(B, 3, H, W)`` in [-1, 1] -> one uint8 grid ``(H', W', 3)``.

    A fixed range rather than ``to_display``'s per-image stretch: a washed-out or saturated
    generator should look so.
    """
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=padding, value_range=(-1, 1),
                     normalize=True)  # (3, H', W') in [0, 1]
    return (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
