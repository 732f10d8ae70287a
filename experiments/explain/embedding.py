"""Penultimate features, their 2-D t-SNE map (scikit-learn) and kNN accuracy in it, and nearest
neighbours in feature space against pixel space."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.manifold import TSNE
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from torch import Tensor, nn


@torch.no_grad()
def penultimate(model: nn.Module, x: Tensor, batch: int = 256) -> Tensor:
    """The input of the net's last linear layer ``(N, D)``: the features the classifier reads."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    out: list[Tensor] = []
    handle = last.register_forward_hook(lambda m, inp, o: out.append(inp[0].flatten(1)))
    try:
        for xb in x.split(batch):
            model(xb)
    finally:
        handle.remove()
    return torch.cat(out)


def tsne(features: Tensor, seed: int = 0) -> np.ndarray:
    """2-D t-SNE ``(N, 2)`` of ``features`` (PCA init, perplexity min(30, N/4))."""
    f = features.double().numpy()
    perplexity = float(min(30, max(2, len(f) // 4)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(f)


def knn_accuracy(points: np.ndarray | Tensor, labels: Tensor, k: int = 5) -> float:
    """5-fold cross-validated accuracy of a ``k``-nearest-neighbour classifier on ``points``."""
    p = points.numpy() if isinstance(points, Tensor) else points
    y = labels.numpy()
    folds = int(min(5, np.bincount(y).max(), len(y)))
    if folds < 2:
        return float("nan")
    return float(cross_val_score(KNeighborsClassifier(min(k, len(y) - 1)), p, y, cv=folds).mean())
