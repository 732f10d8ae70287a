"""Checks of a family's batch contract that both the datamodule and the module apply."""

from __future__ import annotations

from typing import Any

from torch import Tensor


def check_two_views(views: Any, where: str) -> Tensor:
    """The ``(B, 2, 3, H, W)`` two-view batch a contrastive method needs, or a clear error."""
    if not isinstance(views, Tensor):
        raise TypeError(f"{where}: expected two views stacked as a (B, 2, 3, H, W) tensor, got {type(views).__name__}; "
                         "a view transform must return torch.stack([view1, view2])")
    if views.ndim != 5 or views.shape[1] != 2:
        raise ValueError(
            f"{where}: the view transform must return two augmented views of each image, stacked as "
            f"(B, 2, 3, H, W); got shape {tuple(views.shape)} (one view per image?). Wrap a one-view "
            "transform in datamodules.ssl_augment.TwoViews"
        )
    return views
