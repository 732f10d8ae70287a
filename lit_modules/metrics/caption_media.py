"""Attention maps of a decoded caption as one picture per image (plain torch + numpy)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def attention_strip(image: np.ndarray, alphas: Tensor, grid: tuple[int, int], steps: int) -> np.ndarray:
    """The image, then one copy per decoded word lit where the model attended.

    Args:
        image: uint8 (H, W, 3).
        alphas: (T, L) attention weights of the decoded steps (L = h * w).
        grid: (h, w) of the feature grid.
        steps: words to show (the caption's length incl. <eos>), at most T.

    Returns:
        uint8 (H, W * (1 + steps), 3): panels left to right, each attention map upsampled
        bilinearly to the image and stretched to its own maximum (dark = not attended).
    """
    h, w = image.shape[:2]
    maps = alphas[:steps].detach().float().cpu().view(-1, 1, *grid)  # (steps, 1, h', w')
    maps = F.interpolate(maps, size=(h, w), mode="bilinear", align_corners=False)[:, 0]  # (steps, H, W)
    maps = maps / maps.flatten(1).amax(1).clamp_min(1e-8).view(-1, 1, 1)
    base = torch.from_numpy(image).float()  # (H, W, 3)
    panels = [base] + [base * (0.25 + 0.75 * m.unsqueeze(-1)) for m in maps]
    return torch.cat(panels, 1).round().clamp(0, 255).to(torch.uint8).numpy()
