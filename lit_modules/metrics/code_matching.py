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

import math

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


class CodeScores:
    """Accumulates (codes asked, kinds seen, sizes measured) over an evaluation; ``compute()`` gives
    ``{"code_acc"}`` (K > 0) and ``{"code_size_rho"}`` (the largest |ρ| over the continuous codes; 0 if all NaN).

    Plain Python state (per process; not all-reduced under DDP).
    """

    def __init__(self, num_codes: int, num_kinds: int, num_continuous: int) -> None:
        self.k, self.c, self.m = num_codes, num_kinds, num_continuous
        self.reset()

    def reset(self) -> None:
        self.parts: dict[str, list[Tensor]] = {"cat": [], "kind": [], "cont": [], "area": []}

    @property
    def seen(self) -> int:
        return sum(len(c) for c in self.parts["cat"])

    def update(self, cat: Tensor, kind_logits: Tensor, cont: Tensor, fake: Tensor) -> None:
        """cat (B,), the kind classifier's logits (B, C), continuous codes (B, n_cont), the samples (B, 3, H, W)."""
        for key, value in (("cat", cat), ("kind", kind_logits.argmax(1)), ("cont", cont), ("area", foreground_area(fake))):
            self.parts[key].append(value.detach().cpu())

    def compute(self) -> dict[str, float]:
        if not self.parts["cat"]:
            return {}
        v = {key: torch.cat(val) for key, val in self.parts.items()}
        out: dict[str, float] = {}
        if self.k:
            out["code_acc"] = code_accuracy(v["cat"], v["kind"], self.k, self.c)
        if self.m:
            rhos = [abs(spearman(v["cont"][:, j], v["area"])) for j in range(self.m)]
            out["code_size_rho"] = max((r for r in rhos if not math.isnan(r)), default=0.0)
        return out
