"""``paperlab explain`` on video nets (C3D, R3D / R(2+1)D, the 2D ladder): the parts that apply
to clips ``(N, 3, T, H, W)``, measured against the moving object's mask in every frame.

Attribution maps are per pixel *and* frame ``(N, T, H, W)``: saliency, SmoothGrad, integrated
gradients, deconvnet and guided backprop through captum as for images, occlusion one frame at a
time, Grad-CAM over a 3D conv layer's spatio-temporal map upsampled trilinearly. Then the object
covered in every frame against the same area of background, each frame covered in turn, the clip
frozen at its centre frame (motion removed), and FGSM / PGD. What needs one image (CAM's pooled
head, deletion curves, class models, fooling images, inversion, DeepDream, t-SNE) is skipped and
the JSON says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from experiments.explain import adversarial as adv
from experiments.explain import clip_metrics as cm
from experiments.explain import grids, metrics
from experiments.explain.attributions import attribute
from experiments.explain.context import NO_MASKS, Context
from experiments.explain.data import Images
from experiments.explain.loading import conv_layers
from experiments.explain.parts_maps import SANITY_FLAG

CLIP_METHODS = ("saliency", "smoothgrad", "integrated_gradients", "occlusion", "deconvnet", "guided_backprop",
                "gradcam")
NOT_FOR_CLIPS = {
    "cam": "not applicable to clips here: explain's CAM reads a 2D pooled head",
    "deletion_auc": "image-only: the deletion curve removes pixels of one image",
    "fooling / classviz / inversion / deepdream": "image-only: they optimise one image",
    "embedding / neighbours / filters / patches": "image-only so far",
}


def val_clips(dm: L.LightningDataModule, n: int) -> Images:
    """The first ``n`` validation clips (one centre clip each) as pixels, with the object's masks
    in every frame on ShapesWorld."""
    dm.setup("validate")
    mean, std = (torch.tensor(s).view(1, 3, 1, 1, 1) for s in dm._stats())
    xs, ys, have = [], [], 0
    for xb, yb in dm.val_dataloader():
        if xb.ndim != 5 or xb.shape[1] != 3:
            raise ValueError(f"explain needs RGB clips (B, 3, T, H, W), got {tuple(xb.shape)} (val_clips 1, rgb)")
        xs.append((xb.float() * std + mean).clamp(0, 1))
        ys.append(yb)
        have += len(xb)
        if have >= n:
            break
    x, y = torch.cat(xs)[:n], torch.cat(ys)[:n]
    masks = dm.object_masks(list(range(len(x)))) if dm.hparams.source == "shapes" else None
    names = list(dm.class_names or [str(i) for i in range(int(y.max()) + 1)])
    return Images(x, y, masks, names)


def strip(t: Tensor) -> Tensor:
    """Clips ``(N, 3, T, H, W)`` or maps ``(N, T, H, W)`` with their frames side by side: ``(N, [3,] H, T*W)``."""
    return t.movedim(-3, -2).flatten(-2)


def conv3d_layers(model: nn.Module) -> dict[str, nn.Module]:
    return {k: m for k, m in conv_layers(model).items() if isinstance(m, nn.Conv3d)}


def _grid(model: nn.Module, layer: nn.Module, x: Tensor) -> list[int]:
    seen: list[list[int]] = []
    h = layer.register_forward_hook(lambda _m, _i, out: seen.append(list(out.shape[2:])))
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        h.remove()
    return seen[0]


def clip_attribution(name: str) -> Callable[[Context], dict[str, Any]]:
    """The part for attribution method ``name`` on clips: localisation in space-time and per frame,
    where the mass falls in time, and the sanity check."""

    def run(ctx: Context) -> dict[str, Any]:
        x, y, masks = ctx.images.x, ctx.images.y, ctx.images.masks
        if name == "gradcam" and not isinstance(ctx.layer, nn.Conv3d):
            return {"pointing_game": {name: None}, "skipped": {name: f"layer {ctx.layer_name} is not a 3D conv: "
                                                                      "Grad-CAM on clips needs a spatio-temporal map"}}
        maps = attribute(name, ctx.model, x, y, ctx.layer, batch=25)  # (N, T, H, W)
        rand = attribute(name, ctx.random, x, y, ctx.layer_of(ctx.random), batch=25)
        rho = metrics.spearman(maps, rand).mean().item()
        out: dict[str, Any] = {"sanity_rank_correlation": {name: rho}, "sanity_barely_changes": {name: rho >= SANITY_FLAG},
                               "frame_mass_share": {name: cm.frame_share(maps)}}
        if masks is not None:
            out["pointing_game"] = {name: metrics.pointing_game(maps, masks)}
            out["pointing_game_per_frame"] = {name: cm.pointing_game_per_frame(maps, masks)}
            out["mask_mass"] = {name: metrics.mask_mass(maps, masks)}
            if name == "gradcam":
                out["gradcam_grid"] = _grid(ctx.model, ctx.layer, x)
                out["gradcam_pointing_game_by_layer"] = {
                    n: metrics.pointing_game(attribute(name, ctx.model, x, y, m, batch=25), masks)
                    for n, m in conv3d_layers(ctx.model).items()}
        k = ctx.shown
        grids.attribution_grid(ctx.out / f"{name}.png", strip(x[:k]),
                               {name: strip(maps[:k]), f"{name} (random net)": strip(rand[:k])},
                               None if masks is None else strip(masks[:k]))
        out["_maps"] = {name: strip(maps[:k])}
        return out

    return run


def clip_baselines(ctx: Context) -> dict[str, Any]:
    """The trivial references: chance, the mask's share of the clip, and of each frame."""
    x, y, masks = ctx.images.x, ctx.images.y, ctx.images.masks
    out: dict[str, Any] = {"clean_acc": adv.accuracy(ctx.model, x, y), "chance_acc": 1 / len(ctx.images.class_names),
                           "skipped": dict(NOT_FOR_CLIPS), "deletion_auc_random": "image-only"}
    out["mask_share"] = NO_MASKS if masks is None else metrics.mask_share(masks)  # = the mean per-frame share
    return out


def clip_occlusion(ctx: Context) -> dict[str, Any]:
    """The object covered in every frame against background; each frame covered; motion removed."""
    x, y, masks = ctx.images.x, ctx.images.y, ctx.images.masks
    out: dict[str, Any] = {"frame_occlusion_drop": cm.frame_drops(ctx.model, x, y),
                           "frozen_clip_acc": adv.accuracy(ctx.model, cm.frozen(x), y)}
    if masks is not None:
        out.update(cm.occlusion_drops(ctx.model, x, y, masks))
    return out


def clip_adversarial(ctx: Context) -> dict[str, Any]:
    """Accuracy against epsilon (1/255) for FGSM and L-inf PGD on whole clips, and the bound."""
    x, y, m = ctx.images.x, ctx.images.y, ctx.model
    out: dict[str, Any] = {"fgsm_acc": {}, "pgd_linf_acc": {}, "pgd_linf_max_perturbation": {}}
    shown = {"clean": strip(x[:1])[0][None]}
    for e in ctx.eps:
        xf = adv.attack(adv.fgsm, m, x, y, eps=e / 255, batch=50)
        xp = adv.attack(adv.pgd, m, x, y, eps=e / 255, steps=ctx.pgd_steps, batch=50)
        out["fgsm_acc"][str(e)] = adv.accuracy(m, xf, y)
        out["pgd_linf_acc"][str(e)] = adv.accuracy(m, xp, y)
        out["pgd_linf_max_perturbation"][str(e)] = adv.linf_distance(x, xp) * 255
        shown[f"PGD {e}/255"] = strip(xp[:1])[0][None]
    grids.image_grid(ctx.out / "adversarial.png", shown)
    return out


CLIP_SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    **{name: clip_attribution(name) for name in CLIP_METHODS},
    "occlusion_drop": clip_occlusion, "adversarial": clip_adversarial,
}
