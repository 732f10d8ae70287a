"""Sample quality of a generator: FID and KID (torchmetrics) in a pluggable feature space, mode
coverage, and the Inception score (Salimans et al. 2016) from the feature net's class scores.

Features are extracted once per batch and handed to torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` through an identity "feature network" (both accept any ``nn.Module``;
neither then needs torch-fidelity, and FID's matrix square root is torch's ``eigvals``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance


class _Given(nn.Module):
    """Identity with a ``num_features``: the metrics receive features computed outside."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class ModeCoverage(Metric):
    """Share of the C classes to which a classifier assigns at least 1/(4C) of the generated samples.

    A generator that covers every class about equally scores 1; one that collapses onto a single
    class scores 1/C. Update with class scores (B, C) or predicted labels (B,).
    """

    full_state_update = False
    higher_is_better = True

    def __init__(self, num_classes: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("counts", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, scores: Tensor) -> None:
        pred = scores.argmax(1) if scores.ndim == 2 else scores
        self.counts += torch.bincount(pred.long(), minlength=self.num_classes)

    def compute(self) -> Tensor:
        n = self.counts.sum()
        return (self.counts >= n / (4 * self.num_classes)).float().mean()


def inception_score(logits: Tensor, splits: int = 10) -> Tensor:
    """Salimans et al. 2016: exp(E_x KL(p(y|x) || p(y))), averaged over ``splits`` chunks."""
    scores = []
    for chunk in logits.float().chunk(splits):
        logp = chunk.log_softmax(1)  # (n, C)
        logpy = logp.exp().mean(0, keepdim=True).log()  # (1, C) marginal
        scores.append((logp.exp() * (logp - logpy)).sum(1).mean().exp())
    return torch.stack(scores).mean()


class SampleQuality(nn.Module):
    """FID, KID (and mode coverage, Inception score where the features allow) of fakes vs reals.

    Args:
        features: images in [-1, 1] -> (B, num_features); ``logits`` for coverage/IS if it has one.
        tag: feature-space name put in every metric name (``fid_shapes``, ``kid_inception``).
        kid_subset_size: KID subset size (torchmetrics default 1000; shrunk to the samples at hand).
        kid_subsets: KID subsets averaged.
        coverage: log ``mode_coverage`` (needs ``features.logits``).
        inception_score: log ``is_{tag}`` from ``features.logits`` (Inception: 1000 ImageNet classes; the
            ShapesWorld classifier: its kinds, so at most 6 there - comparable only within one feature net).

    ``compute()`` returns ``{"fid_<tag>", "kid_<tag>", ["mode_coverage"], ["is_<tag>"]}``.
    """

    def __init__(self, features: nn.Module, tag: str, kid_subset_size: int = 100, kid_subsets: int = 50,
                 coverage: bool = True, inception_score: bool = False) -> None:
        super().__init__()
        self.features, self.tag = features.eval().requires_grad_(False), tag
        dim = int(features.num_features)
        self.fid = FrechetInceptionDistance(feature=_Given(dim))
        self.kid = KernelInceptionDistance(feature=_Given(dim), subset_size=kid_subset_size, subsets=kid_subsets)
        self.kid_subset_size = kid_subset_size
        has_logits = hasattr(features, "logits")
        classes = getattr(features, "num_classes", 0)
        self.coverage = ModeCoverage(classes) if coverage and has_logits and classes else None
        self.score_is = inception_score and has_logits
        self._logits: list[Tensor] = []

    def train(self, mode: bool = True) -> SampleQuality:
        super().train(mode)
        self.features.eval()  # a frozen measuring instrument: BN statistics never move
        return self

    @torch.no_grad()
    def update(self, real: Tensor, fake: Tensor) -> None:
        """Real and generated images, (B, 3, H, W) in [-1, 1] (the two batches may differ in size)."""
        f_real = self.features(real)
        f_fake = self.features(fake)
        self.fid.update(f_real, real=True)
        self.fid.update(f_fake, real=False)
        self.kid.update(f_real, real=True)
        self.kid.update(f_fake, real=False)
        if self.coverage is not None or self.score_is:
            logits = self.features.logits(fake)
            if self.coverage is not None:
                self.coverage.update(logits)
            if self.score_is:
                self._logits.append(logits.float())

    def compute(self) -> dict[str, Tensor]:
        n = min(len(torch.cat(self.kid.real_features)) if self.kid.real_features else 0,
                len(torch.cat(self.kid.fake_features)) if self.kid.fake_features else 0)
        self.kid.subset_size = max(2, min(self.kid_subset_size, n))  # short val sets (smoke runs) still score
        out = {f"fid_{self.tag}": self.fid.compute(), f"kid_{self.tag}": self.kid.compute()[0]}
        if self.coverage is not None:
            out["mode_coverage"] = self.coverage.compute()
        if self.score_is and self._logits:
            out[f"is_{self.tag}"] = inception_score(torch.cat(self._logits))
        return out

    def reset(self) -> None:
        self.fid.reset()
        self.kid.reset()
        if self.coverage is not None:
            self.coverage.reset()
        self._logits.clear()
