"""The images explain works on: the datamodule's validation split (with the labelled objects'
masks on ShapesWorld) or an image folder, as pixels in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as TF

from contracts.errors import ConfigError, DatasetError


@dataclass
class Images:
    """Pixels ``(N, 3, H, W)`` in [0, 1], labels ``(N,)``, masks ``(N, H, W)`` or None.

    ``labels_note`` says where the labels came from when they are not ground truth.
    """

    x: Tensor
    y: Tensor
    masks: Tensor | None
    class_names: list[str]
    labels_note: str | None = None
    embed_x: Tensor | None = None  # more images for the embedding, when there are more
    embed_y: Tensor | None = None


def val_images(dm: L.LightningDataModule, n: int, n_embed: int) -> Images:
    """The first ``max(n, n_embed)`` validation images, un-normalised back to pixels."""
    dm.setup("validate")
    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in dm._stats())
    xs, ys, have = [], [], 0
    loaders = dm.val_dataloader()
    if isinstance(loaders, list | tuple):  # SSL: loader 0 is the labelled bank, the last one is scored
        loaders = loaders[-1]
    for xb, yb in loaders:
        if xb.ndim != 4:
            raise ConfigError("explain needs (B, 3, H, W) image batches (turn ten_crop off)")
        xs.append((xb.float() * std + mean).clamp(0, 1))
        ys.append(yb)
        have += len(xb)
        if have >= max(n, n_embed):
            break
    x, y = torch.cat(xs), torch.cat(ys)
    masks = None
    if getattr(dm.hparams, "source", None) == "shapes" and hasattr(dm, "object_masks"):
        masks = dm.object_masks(list(range(min(n, len(x)))))
    names = list(getattr(dm, "class_names", None) or [str(i) for i in range(int(y.max()) + 1)])
    return Images(x[:n], y[:n], masks, names, embed_x=x[:n_embed], embed_y=y[:n_embed])


def folder_images(folder: str, size: int, class_names: list[str], model: torch.nn.Module, n: int) -> Images:
    """Up to ``n`` images under ``folder`` resized to ``size``; a sub-folder named after a class
    labels its images, otherwise the model's own prediction is the label (and the JSON says so)."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"--images {folder}: no such folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name.lower().endswith(IMG_EXTENSIONS))[:n]
    if not files:
        raise DatasetError(f"--images {folder}: no image files ({', '.join(IMG_EXTENSIONS[:4])}, ...)")
    xs, ys = [], []
    for f in files:
        try:
            with Image.open(f) as im:
                img = TF.to_dtype(TF.pil_to_tensor(im.convert("RGB")), torch.float32, scale=True)
        except (UnidentifiedImageError, OSError) as e:
            raise DatasetError(f"--images: cannot read {f}: {e}") from e
        xs.append(TF.resize(img, [size, size], antialias=True).clamp(0, 1))
        ys.append(class_names.index(f.parent.name) if f.parent.name in class_names else -1)
    x, y = torch.stack(xs), torch.tensor(ys)
    note = None
    if (y < 0).any():
        with torch.no_grad():
            pred = model(x).argmax(-1)
        y = torch.where(y < 0, pred, y)
        note = "images outside a class-named sub-folder are labelled with the model's prediction"
    return Images(x, y, None, class_names, note, embed_x=x, embed_y=y)
