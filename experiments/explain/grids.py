"""PNG grids of what explain made (matplotlib, Agg): images with their maps, adversarial and
synthesised images, the t-SNE maps. Plotting only; the numbers come from the other modules."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from torch import Tensor


def _show(ax, img: Tensor | np.ndarray, title: str = "", cmap: str | None = None) -> None:
    a = img.numpy() if isinstance(img, Tensor) else img
    if a.ndim == 3 and a.shape[0] == 3:
        a = a.transpose(1, 2, 0)
    ax.imshow(a.clip(0, 1) if cmap is None else a, cmap=cmap)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def attribution_grid(path: Path, images: Tensor, maps: dict[str, Tensor], masks: Tensor | None) -> Path:
    """One row per image: the image (object outlined when a mask is known), then each method's map."""
    n, cols = len(images), 1 + len(maps)
    wide = images.shape[-1] / images.shape[-2]  # > 1 for a clip's frames side by side
    fig, axes = plt.subplots(n, cols, figsize=(1.3 * cols * wide, 1.3 * n), squeeze=False)
    for i in range(n):
        _show(axes[i, 0], images[i], "image" if i == 0 else "")
        if masks is not None:
            axes[i, 0].contour(masks[i].numpy(), levels=[0.5], colors="lime", linewidths=0.6)
        for j, (name, m) in enumerate(maps.items(), 1):
            _show(axes[i, j], m[i] / m[i].max().clamp(min=1e-12), name if i == 0 else "", "inferno")
    return _save(fig, path)


def image_grid(path: Path, rows: dict[str, Tensor], titles: list[str] | None = None) -> Path:
    """One row per named batch of images ``(K, 3, H, W)``, columns titled by ``titles``."""
    cols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.3 * cols, 1.4 * len(rows)), squeeze=False)
    for i, (name, imgs) in enumerate(rows.items()):
        for j in range(cols):
            if j < len(imgs):
                _show(axes[i, j], imgs[j], (titles[j] if titles and i == 0 and j < len(titles) else ""))
            else:
                axes[i, j].axis("off")
        axes[i, 0].text(-0.1, 0.5, name, transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=7)
    return _save(fig, path)


def tsne_figure(path: Path, maps: dict[str, np.ndarray], labels: np.ndarray, scores: dict[str, float]) -> Path:
    """The t-SNE maps side by side, coloured by class, kNN accuracy in each title."""
    fig, axes = plt.subplots(1, len(maps), figsize=(4 * len(maps), 4), squeeze=False)
    for ax, (name, pts) in zip(axes[0], maps.items()):
        ax.scatter(pts[:, 0], pts[:, 1], c=labels, cmap="tab10", s=4)
        ax.set_title(f"{name}: kNN acc {scores[name]:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
