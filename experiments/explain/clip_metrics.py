"""What an explanation of a video net is measured by, given the moving object's mask in every
frame: pure tensor functions on clips.

Clips are ``(N, 3, T, H, W)`` in [0, 1], maps ``(N, T, H, W)`` non-negative, masks ``(N, T, H, W)``
bool. The image metrics (``metrics.pointing_game``, ``mask_mass``, ``mask_share``, ``spearman``)
flatten everything after N, so on clips they score the whole space-time volume; the per-frame
figures here score each frame on its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.explain import metrics


def frames(t: Tensor) -> Tensor:
    """Maps or masks ``(N, T, H, W)`` as ``(N*T, H, W)`` frames."""
    return t.flatten(0, 1)


def pointing_game_per_frame(maps: Tensor, masks: Tensor) -> float:
    """Share of frames whose own map maximum lies inside that frame's object mask."""
    return metrics.pointing_game(frames(maps), frames(masks))


def frame_share(maps: Tensor) -> list[float]:
    """Mean share of each map's total mass in each time position ``t`` (length T; 1/T if uniform)."""
    per_t = maps.clamp(min=0).flatten(2).sum(2)  # (N, T)
    return (per_t / per_t.sum(1, keepdim=True).clamp(min=1e-12)).mean(0).tolist()


def fill_colour(x: Tensor) -> Tensor:
    """Each clip's mean colour ``(N, 3, 1, 1, 1)``: what covered pixels or frames become."""
    return x.mean((2, 3, 4), keepdim=True)


def occlusion_drops(model: nn.Module, x: Tensor, y: Tensor, masks: Tensor) -> dict[str, float]:
    """True-class probability drop when the region the object sweeps over the clip is covered in
    every frame (with the clip's mean colour), and when a background region of the same area is
    (``metrics.background_patch`` of that swept region: as far from the object as it can be)."""
    swept = masks.any(1)  # (N, H, W): everywhere the object is in some frame
    bg = torch.stack([metrics.background_patch(m) for m in swept])
    fill, p = fill_colour(x), metrics.class_prob(model, x, y)
    cover = lambda region: torch.where(region[:, None, None], fill, x)  # (N, 1, 1, H, W) over all frames
    drop_obj = p - metrics.class_prob(model, cover(swept), y)
    drop_bg = p - metrics.class_prob(model, cover(bg), y)
    return {"occlusion_drop_object": drop_obj.mean().item(),
            "occlusion_drop_background": drop_bg.mean().item(),
            "occlusion_background_area_ratio": (bg.flatten(1).sum(1) / swept.flatten(1).sum(1)).mean().item(),
            "occlusion_swept_share": swept.float().mean().item()}


def frame_drops(model: nn.Module, x: Tensor, y: Tensor) -> list[float]:
    """True-class probability drop when frame ``t`` alone is replaced by the clip's mean colour, per t."""
    fill, p = fill_colour(x), metrics.class_prob(model, x, y)
    out = []
    for t in range(x.shape[2]):
        covered = x.clone()
        covered[:, :, t] = fill[:, :, 0]
        out.append((p - metrics.class_prob(model, covered, y)).mean().item())
    return out


def frozen(x: Tensor) -> Tensor:
    """Every frame replaced by the clip's centre frame: the same scene with the motion taken out."""
    return x[:, :, x.shape[2] // 2, None].expand_as(x).contiguous()
