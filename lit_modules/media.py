"""Helpers for the W&B media each family logs (``wandb_media``); plain torch + numpy."""

from __future__ import annotations

import numpy as np
from torch import Tensor


def to_display(images: Tensor) -> np.ndarray:
    """Normalised images ``(B, 3, H, W)`` -> uint8 ``(B, H, W, 3)``, each stretched to its own range.

    The module does not know the dataset's mean/std; a per-image stretch shows what the network
    saw without it.
    """
    x = images.detach().float().cpu()
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    x = (x - lo) / (hi - lo).clamp_min(1e-6)
    return (x.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
