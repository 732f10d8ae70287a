"""The measured parts on attribution maps: per method localisation (pointing game, mask mass),
faithfulness (deletion), the sanity check, their trivial baselines and the occlusion drop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from experiments.explain import adversarial as adv
from experiments.explain import grids, metrics
from experiments.explain.attributions import attribute, cam_head
from experiments.explain.context import NO_MASKS, Context
from experiments.explain.loading import conv_layers

SANITY_FLAG = 0.5  # mean rank correlation trained vs randomised at or above which a map "barely changes"


def attribution(name: str) -> Callable[[Context], dict[str, Any]]:
    """The part for attribution method ``name``: maps, localisation, deletion, sanity check."""

    def run(ctx: Context) -> dict[str, Any]:
        x, y, masks = ctx.images.x, ctx.images.y, ctx.images.masks
        if name == "cam" and cam_head(ctx.model) is None:
            reason = "not applicable: CAM needs global pooling then one linear layer; this head is an MLP"
            return {"pointing_game": {name: None}, "skipped": {name: reason}}
        maps = attribute(name, ctx.model, x, y, ctx.layer)
        rand = attribute(name, ctx.random, x, y, ctx.layer_of(ctx.random))
        rho = metrics.spearman(maps, rand).mean().item()
        order = maps.flatten(1).argsort(1, descending=True)
        out: dict[str, Any] = {
            "deletion_auc": {name: metrics.auc(metrics.deletion_curve(ctx.model, x, y, order))},
            "sanity_rank_correlation": {name: rho},
            "sanity_barely_changes": {name: rho >= SANITY_FLAG},
        }
        if masks is not None:
            tolerant = metrics.dilate(masks, metrics.tolerance_px(x.shape[-1]))
            out["pointing_game"] = {name: metrics.pointing_game(maps, masks)}
            out["pointing_game_tolerant"] = {name: metrics.pointing_game(maps, tolerant)}
            out["mask_mass"] = {name: metrics.mask_mass(maps, masks)}
            if name == "gradcam":  # the layer matters: the last conv map of a small net is coarse
                out["gradcam_pointing_game_by_layer"] = {
                    n: metrics.pointing_game(attribute(name, ctx.model, x, y, m), masks)
                    for n, m in conv_layers(ctx.model).items()}
                out["gradcam_pointing_ceiling"] = metrics.pointing_ceiling(grid_of(ctx.model, ctx.layer, x), masks)
        k = ctx.shown
        grids.attribution_grid(ctx.out / f"{name}.png", x[:k], {name: maps[:k], f"{name} (random net)": rand[:k]},
                               None if masks is None else masks[:k])
        out["_maps"] = {name: maps[:k]}
        return out

    return run


def grid_of(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """The spatial size of ``layer``'s output on ``x``: the grid Grad-CAM's map lives on."""
    seen: list[tuple[int, int]] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[-2:])))
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        handle.remove()
    return seen[0]


def baselines(ctx: Context) -> dict[str, Any]:
    """The trivial references: the mask's share of the image and deletion in random order."""
    x, y = ctx.images.x, ctx.images.y
    g = torch.Generator().manual_seed(ctx.seed)
    order = torch.stack([torch.randperm(x.shape[-1] * x.shape[-2], generator=g) for _ in range(len(x))])
    out: dict[str, Any] = {"deletion_auc_random": metrics.auc(metrics.deletion_curve(ctx.model, x, y, order)),
                           "clean_acc": adv.accuracy(ctx.model, x, y), "chance_acc": 1 / len(ctx.images.class_names)}
    masks = ctx.images.masks
    out["mask_share"] = metrics.mask_share(masks) if masks is not None else NO_MASKS
    if masks is not None:
        tol = metrics.tolerance_px(x.shape[-1])
        out["pointing_tolerance_px"] = tol
        out["mask_share_tolerant"] = metrics.mask_share(metrics.dilate(masks, tol))
    return out


def occlusion_drop(ctx: Context) -> dict[str, Any]:
    """True-class probability drop: the object covered against the same area of background."""
    if ctx.images.masks is None:
        return {"occlusion_drop_object": NO_MASKS, "occlusion_drop_background": NO_MASKS}
    return metrics.occlusion_drops(ctx.model, ctx.images.x, ctx.images.y, ctx.images.masks)
