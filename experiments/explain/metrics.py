"""What an explanation is measured by, given the labelled object's mask: pure tensor functions.

Maps are ``(N, H, W)`` non-negative, masks ``(N, H, W)`` bool, images ``(N, 3, H, W)`` in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def pointing_game(maps: Tensor, masks: Tensor) -> float:
    """Share of images whose map maximum lies inside the mask (Zhang 2016).

    Where several pixels share the maximum (flat occlusion maps) an image scores the share of
    them inside the mask, so ties neither favour nor punish a method.
    """
    flat, m = maps.flatten(1), masks.flatten(1)
    top = flat == flat.amax(1, keepdim=True)  # (N, HW)
    return ((top & m).sum(1) / top.sum(1)).float().mean().item()


def pointing_ceiling(grid: tuple[int, int], masks: Tensor) -> float:
    """The best pointing game any map on an ``h x w`` grid can score once bilinearly upsampled.

    An upsampled grid's maximum lies on (the tie region of) one grid node, so a map can only point
    where a node's region falls; the ceiling scores, per image, the best single node (ties split as
    in ``pointing_game``). Below 1 when the labelled object can miss every node of a coarse map.
    """
    h, w = grid
    nodes = torch.eye(h * w).view(h * w, 1, h, w)
    up = F.interpolate(nodes, size=tuple(masks.shape[-2:]), mode="bilinear")[:, 0]  # (K, H, W)
    top = (up == up.flatten(1).amax(1)[:, None, None]).flatten(1).float()  # (K, HW) each node's region
    hit = masks.flatten(1).float() @ top.T / top.sum(1)  # (N, K) share of each region inside the mask
    return hit.amax(1).mean().item()


def tolerance_px(side: int) -> int:
    """Zhang 2016's pointing-game tolerance, 15 px at 224 px, scaled to an image side."""
    return round(15 * side / 224)


def dilate(masks: Tensor, radius: int) -> Tensor:
    """Masks grown by ``radius`` px (a square neighbourhood): the tolerant pointing game's target."""
    if radius <= 0:
        return masks
    return F.max_pool2d(masks[:, None].float(), 2 * radius + 1, 1, radius)[:, 0] > 0


def mask_share(masks: Tensor) -> float:
    """Mean share of the image the mask covers: what a map blind to the object scores on both
    the pointing game (a random maximum) and the mask mass (a uniform map)."""
    return masks.flatten(1).float().mean().item()


def mask_mass(maps: Tensor, masks: Tensor) -> float:
    """Mean share of each map's total inside the mask (an all-zero map counts as uniform)."""
    flat, m = maps.flatten(1).clamp(min=0), masks.flatten(1).float()
    total = flat.sum(1)
    inside = (flat * m).sum(1) / total.clamp(min=1e-12)
    return torch.where(total > 0, inside, m.mean(1)).mean().item()


def spearman(a: Tensor, b: Tensor) -> Tensor:
    """Spearman rank correlation per row of ``a`` and ``b`` ``(N, ...)`` -> ``(N,)`` (ties by index)."""
    ra = a.flatten(1).argsort(1).argsort(1).float()
    rb = b.flatten(1).argsort(1).argsort(1).float()
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp(min=1e-12)


def fill_colour(x: Tensor) -> Tensor:
    """Each image's mean colour ``(N, 3, 1, 1)``: what deleted or covered pixels become."""
    return x.mean((2, 3), keepdim=True)


@torch.no_grad()
def class_prob(model: nn.Module, x: Tensor, y: Tensor, batch: int = 256) -> Tensor:
    """Softmax probability of class ``y`` for each image ``(N,)``."""
    return torch.cat([model(xb).softmax(-1).gather(1, yb[:, None])[:, 0]
                      for xb, yb in zip(x.split(batch), y.split(batch))])


@torch.no_grad()
def deletion_curve(model: nn.Module, x: Tensor, y: Tensor, order: Tensor, steps: int = 16) -> Tensor:
    """Class probability as pixels are deleted (set to the image's mean colour) in ``order``.

    Args:
        order: ``(N, H*W)`` pixel indices, first deleted first (``maps.flatten(1).argsort(1, True)``).
        steps: deletion steps; step k deletes the first k/steps of the pixels.

    Returns:
        ``(N, steps + 1)`` probabilities, from the intact image to the fully deleted one.
    """
    n, _, h, w = x.shape
    fill = fill_colour(x)
    rank = order.argsort(1).view(n, 1, h, w)  # each pixel's position in the deletion order
    curve = []
    for k in range(steps + 1):
        gone = rank < round(k * h * w / steps)  # (N, 1, H, W)
        curve.append(class_prob(model, torch.where(gone, fill, x), y))
    return torch.stack(curve, 1)


def auc(curve: Tensor) -> float:
    """Mean trapezoid area under ``(N, K)`` curves on [0, 1] (lower = faster drop = more faithful)."""
    return torch.trapezoid(curve, dx=1.0 / (curve.shape[1] - 1), dim=1).mean().item()


def background_patch(mask: Tensor) -> Tensor:
    """A compact background region of the object's area (or all background, if smaller).

    The background pixels nearest to the one farthest from the object: covering it hides as many
    pixels as covering the object, away from it. ``mask`` ``(H, W)`` bool -> ``(H, W)`` bool.
    """
    h, w = mask.shape
    yx = torch.stack(torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij"), -1).view(-1, 2).float()
    inside, flat = yx[mask.flatten()], mask.flatten()
    if not flat.any() or flat.all():
        return torch.zeros_like(mask)
    to_object = torch.cdist(yx, inside).amin(1).masked_fill(flat, -1)  # (HW,)
    seed = yx[to_object.argmax()]
    dist = (yx - seed).norm(dim=1).masked_fill(flat, float("inf"))
    k = min(int(flat.sum()), int((~flat).sum()))
    out = torch.zeros(h * w, dtype=torch.bool)
    out[dist.argsort()[:k]] = True
    return out.view(h, w)


def occlusion_drops(model: nn.Module, x: Tensor, y: Tensor, masks: Tensor) -> dict[str, float]:
    """True-class probability drop when the object is covered with the image's mean colour, and
    when a background region of the same area is."""
    bg = torch.stack([background_patch(m) for m in masks])
    fill, p = fill_colour(x), class_prob(model, x, y)
    drop_obj = p - class_prob(model, torch.where(masks[:, None], fill, x), y)
    drop_bg = p - class_prob(model, torch.where(bg[:, None], fill, x), y)
    return {"occlusion_drop_object": drop_obj.mean().item(),
            "occlusion_drop_background": drop_bg.mean().item(),
            "occlusion_background_area_ratio": (bg.flatten(1).sum(1) / masks.flatten(1).sum(1)).mean().item()}
