"""The parts on penultimate features: t-SNE and kNN accuracy in it (trained against random-init),
and nearest neighbours in feature against pixel space."""

from __future__ import annotations

from typing import Any

import torch

from experiments.explain import embedding, grids
from experiments.explain.context import Context


def embed(ctx: Context) -> dict[str, Any]:
    """t-SNE of penultimate features and kNN accuracy in it, trained against random-init net;
    kNN in feature space against pixel space."""
    x, y = ctx.images.embed_x, ctx.images.embed_y
    f_trained, f_random = embedding.penultimate(ctx.model, x), embedding.penultimate(ctx.random, x)
    maps = {"trained": embedding.tsne(f_trained, ctx.seed), "random init": embedding.tsne(f_random, ctx.seed)}
    scores = {k: embedding.knn_accuracy(v, y) for k, v in maps.items()}
    grids.tsne_figure(ctx.out / "tsne.png", maps, y.numpy(), scores)
    return {"tsne_knn_acc": scores["trained"], "tsne_knn_acc_random_init": scores["random init"],
            "knn_acc_features": embedding.knn_accuracy(f_trained, y),
            "knn_acc_pixels": embedding.knn_accuracy(x.flatten(1), y), "embedding_samples": len(x)}


def neighbours(ctx: Context) -> dict[str, Any]:
    """Nearest neighbours of a few images in penultimate-feature space against pixel space:
    how often the 5 nearest share the query's class."""
    x, y = ctx.images.embed_x, ctx.images.embed_y
    feats = embedding.penultimate(ctx.model, x)
    out, rows = {}, {}
    for space, f in (("features", feats), ("pixels", x.flatten(1))):
        d = torch.cdist(f, f).fill_diagonal_(float("inf"))
        nn5 = d.topk(5, largest=False).indices  # (N, 5)
        out[f"nn5_same_class_{space}"] = (y[nn5] == y[:, None]).float().mean().item()
        for q in range(min(4, len(x))):
            rows[f"{q} {space}"] = torch.cat([x[q:q + 1], x[nn5[q]]])
    grids.image_grid(ctx.out / "neighbours.png", rows, ["query"] + [f"nn {k}" for k in range(1, 6)])
    return out
