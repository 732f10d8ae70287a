"""Conditional-generation metrics in the ShapesWorld classifier's space: conditional accuracy and
per-class FID.

``cond_acc``: the share of samples that the classifier (the one supplying the FID features) labels
with the class the generator was asked for; 1/C for a generator that ignores its label.
``fid_<tag>_<class>``: FID between the real images of a class and the samples asked for it, so a
generator that draws good images of the wrong class scores badly here though its overall FID is fine.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric
from torchmetrics.image.fid import FrechetInceptionDistance

from lit_modules.metrics.sample_quality import _Given


class ConditionalQuality(nn.Module):
    """Accumulates (real, label) and (fake, asked label) batches; ``compute()`` -> cond_acc and per-class FIDs.

    Args:
        features: the classifier: images in [-1, 1] -> (B, F) features, ``logits`` -> (B, C).
        class_names: the data's class names, in label order (must be the classifier's classes).
        tag: feature-space name in the metric names (``fid_shapes_circle``).
    """

    def __init__(self, features: nn.Module, class_names: list[str], tag: str = "shapes") -> None:
        super().__init__()
        self.features, self.class_names, self.tag = features.eval().requires_grad_(False), list(class_names), tag
        dim = int(features.num_features)
        self.fids = nn.ModuleList(FrechetInceptionDistance(feature=_Given(dim)) for _ in class_names)
        self.acc = MeanMetric()  # torchmetrics: all-reduced across DDP ranks, as the FIDs are

    def train(self, mode: bool = True) -> ConditionalQuality:
        super().train(mode)
        self.features.eval()
        return self

    @torch.no_grad()
    def update(self, real: Tensor, real_labels: Tensor, fake: Tensor, fake_labels: Tensor) -> None:
        f_real, f_fake = self.features(real), self.features(fake)  # (B, F)
        pred = self.features.logits(fake).argmax(1)  # (B,)
        self.acc.update((pred == fake_labels).float())
        for k, fid in enumerate(self.fids):
            r, f = real_labels == k, fake_labels == k
            if r.any():
                fid.update(f_real[r], real=True)
            if f.any():
                fid.update(f_fake[f], real=False)

    def compute(self) -> dict[str, Tensor]:
        out = {"cond_acc": self.acc.compute()} if self.acc.update_count else {}
        for name, fid in zip(self.class_names, self.fids, strict=True):
            if fid.real_features_num_samples > 1 and fid.fake_features_num_samples > 1:
                out[f"fid_{self.tag}_{name}"] = fid.compute()
        return out

    def reset(self) -> None:
        self.acc.reset()
        for fid in self.fids:
            fid.reset()
