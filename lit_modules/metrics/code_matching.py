"""InfoGAN's codes against the world's factors: the categorical code under its best one-to-one
matching to the classifier's kinds, and a continuous code against a measured object size.

``code_accuracy``: with K code values and C kinds, count the K x C table of (code asked, kind the
classifier sees), pick the code -> kind assignment with the most samples on the diagonal (Hungarian
algorithm, ``scipy.optimize.linear_sum_assignment``), and return that count / N. This is the
"5 % error on MNIST" figure of the InfoGAN paper (sec. 6.1) measured with the ShapesWorld classifier.

``foreground_area``: ShapesWorld's demos draw one object on a flat background, so an object's size
can be read off a sample without a model: the share of pixels whose colour is farther than
``threshold`` (RGB Euclidean, images in [-1, 1]) from the median colour of the image's border.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import spearmanr
from torch import Tensor


def code_accuracy(codes: Tensor, kinds: Tensor, num_codes: int, num_kinds: int) -> float:
    """Accuracy of ``kinds`` (N,) predicted from ``codes`` (N,) under the best code -> kind matching."""
    if codes.shape != kinds.shape or codes.ndim != 1:
        raise ValueError(f"codes {tuple(codes.shape)} and kinds {tuple(kinds.shape)} must be the same (N,)")
    if len(codes) == 0:
        return 0.0
    table = torch.zeros(num_codes, num_kinds, dtype=torch.long)
    table.index_put_((codes.long().cpu(), kinds.long().cpu()), torch.ones(len(codes), dtype=torch.long),
                     accumulate=True)  # (K, C) counts
    rows, cols = linear_sum_assignment(table.numpy(), maximize=True)
    return float(table.numpy()[rows, cols].sum() / len(codes))


def foreground_area(images: Tensor, threshold: float = 0.4) -> Tensor:
    """Share of pixels (B,) that differ from the border's median colour; images (B, 3, H, W) in [-1, 1]."""
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], -1)  # (B, 3, 4S)
    bg = border.median(-1).values  # (B, 3)
    dist = (images - bg[:, :, None, None]).norm(dim=1)  # (B, H, W)
    return (dist > threshold).float().mean((1, 2))


def spearman(x: Tensor, y: Tensor) -> float:
    """Spearman rank correlation of two (N,) tensors (``scipy.stats.spearmanr``; NaN if either is constant)."""
    return float(spearmanr(x.cpu().numpy(), y.cpu().numpy()).statistic)
