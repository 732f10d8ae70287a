"""The parts that make images by gradients: adversarial examples, fooling images, class models,
feature inversion, DeepDream; and what a layer holds: first-layer filters, top-activating patches."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from experiments.explain import adversarial as adv
from experiments.explain import grids, synthesis
from experiments.explain.context import Context, activation


def adversarial(ctx: Context) -> dict[str, Any]:
    """Accuracy against epsilon (1/255) for FGSM and PGD (L-inf, L2), the bound, targeted PGD, transfer."""
    x, y, m = ctx.images.x, ctx.images.y, ctx.model
    out: dict[str, Any] = {"fgsm_acc": {}, "pgd_linf_acc": {}, "pgd_l2_acc": {}, "pgd_linf_max_perturbation": {},
                           "transfer_pgd_linf_acc": {}}
    shown: dict[str, Tensor] = {"clean": x[:ctx.shown]}
    for e in ctx.eps:
        eps = e / 255
        xf = adv.attack(adv.fgsm, m, x, y, eps=eps)
        xp = adv.attack(adv.pgd, m, x, y, eps=eps, steps=ctx.pgd_steps)
        # the L2 ball with the L-inf ball's radius over a 64x64x3 image would be tiny: scale by sqrt(d)
        x2 = adv.attack(adv.pgd, m, x, y, eps=eps * x[0].numel() ** 0.5 / 4, steps=ctx.pgd_steps, norm="l2")
        out["fgsm_acc"][str(e)] = adv.accuracy(m, xf, y)
        out["pgd_linf_acc"][str(e)] = adv.accuracy(m, xp, y)
        out["pgd_l2_acc"][str(e)] = adv.accuracy(m, x2, y)
        out["pgd_linf_max_perturbation"][str(e)] = adv.linf_distance(x, xp) * 255
        out.setdefault("pgd_linf_within_bound", {})[str(e)] = adv.linf_distance(x, xp) <= eps  # exact
        out["transfer_pgd_linf_acc"][str(e)] = adv.accuracy(ctx.transfer, xp, y) if ctx.transfer else None
        shown[f"PGD {e}/255"] = xp[:ctx.shown]
    out["pgd_l2_eps_note"] = "L2 radius = eps * sqrt(3HW) / 4 (eps in 1/255)"
    if ctx.transfer is None:
        out["transfer_pgd_linf_acc"] = {"value": None, "reason": ctx.transfer_note}
    else:  # the baseline of a transfer figure: the other model's accuracy on the clean images
        out["transfer_clean_acc"] = adv.accuracy(ctx.transfer, x, y)
    target = (y + 1) % len(ctx.images.class_names)
    xt = adv.attack(adv.pgd, m, x, target, eps=max(ctx.eps) / 255, steps=ctx.pgd_steps, targeted=True)
    with torch.no_grad():
        out["pgd_targeted_success"] = {str(max(ctx.eps)): (m(xt).argmax(-1) == target).float().mean().item()}
    grids.image_grid(ctx.out / "adversarial.png", shown)
    return out


def fooling(ctx: Context) -> dict[str, Any]:
    """Fooling images from noise: confidence reached for every class and the steps it took."""
    classes = torch.arange(len(ctx.images.class_names))
    imgs, steps = synthesis.fooling_images(ctx.model, classes, ctx.images.x.shape[-1],
                                           max_steps=ctx.steps, seed=ctx.seed)
    with torch.no_grad():
        conf = ctx.model(imgs).softmax(-1).gather(1, classes[:, None])[:, 0]
    grids.image_grid(ctx.out / "fooling.png", {"fooling": imgs}, [f"{n} {c:.3f}" for n, c in
                                                                   zip(ctx.images.class_names, conf.tolist())])
    return {"fooling_confidence": conf.min().item(), "fooling_confidence_per_class": conf.tolist(),
            "fooling_steps": steps.tolist(), "fooling_max_steps": ctx.steps}


def classviz(ctx: Context) -> dict[str, Any]:
    """Class models, plain and regularised: softmax confidence under this model and another."""
    classes = torch.arange(len(ctx.images.class_names))
    out: dict[str, Any] = {"classviz_self_confidence": {}, "classviz_transfer_confidence": {}}
    rows = {}
    for kind, reg in (("plain", False), ("regularised", True)):
        imgs = synthesis.class_visualisation(ctx.model, classes, ctx.images.x.shape[-1], steps=ctx.steps,
                                             regularise=reg, seed=ctx.seed)
        with torch.no_grad():
            out["classviz_self_confidence"][kind] = ctx.model(imgs).softmax(-1).gather(1, classes[:, None]).mean().item()
            out["classviz_transfer_confidence"][kind] = (
                ctx.transfer(imgs).softmax(-1).gather(1, classes[:, None]).mean().item() if ctx.transfer else None)
        rows[kind] = imgs
    if ctx.transfer is None:
        out["classviz_transfer_confidence"] = {"value": None, "reason": ctx.transfer_note}
    grids.image_grid(ctx.out / "classviz.png", rows, ctx.images.class_names)
    return out


def inversion(ctx: Context) -> dict[str, Any]:
    """Feature inversion of the chosen layer: how close the reconstruction's features and pixels get."""
    feats = activation(ctx.model, ctx.layer)
    x = ctx.images.x[:ctx.shown]
    with torch.no_grad():
        target = feats(x)
    rec = synthesis.invert(feats, target, x.shape[-1], steps=ctx.steps, seed=ctx.seed)
    with torch.no_grad():
        rel = ((feats(rec) - target).norm() / target.norm()).item()
    corr = torch.corrcoef(torch.stack([rec.flatten(), x.flatten()]))[0, 1].item()
    grids.image_grid(ctx.out / "inversion.png", {"image": x, f"inverted {ctx.layer_name}": rec})
    return {"inversion_feature_rel_error": rel, "inversion_pixel_correlation": corr, "inversion_layer": ctx.layer_name}


def deepdream(ctx: Context) -> dict[str, Any]:
    """DeepDream on the chosen layer: how much the layer's mean square activation grows."""
    act = activation(ctx.model, ctx.layer)
    x = ctx.images.x[:ctx.shown]
    dream = synthesis.deepdream(act, x, steps=max(1, ctx.steps // 4))
    with torch.no_grad():
        gain = (act(dream).pow(2).mean() / act(x).pow(2).mean().clamp(min=1e-12)).item()
    grids.image_grid(ctx.out / "deepdream.png", {"image": x, f"dream {ctx.layer_name}": dream})
    return {"deepdream_activation_gain": gain, "deepdream_layer": ctx.layer_name}


def filters(ctx: Context) -> dict[str, Any]:
    """The first conv layer's filters as images (each scaled to [0, 1])."""
    w = next(m for m in ctx.model.net.modules() if isinstance(m, nn.Conv2d)).weight.detach()[:, :3]
    lo, hi = w.amin((1, 2, 3), keepdim=True), w.amax((1, 2, 3), keepdim=True)
    w = (w - lo) / (hi - lo).clamp(min=1e-12)
    rows = {f"filters {i}": w[i:i + 16] for i in range(0, min(len(w), 64), 16)}
    grids.image_grid(ctx.out / "filters.png", rows)
    return {"first_layer_filters": len(w)}


def patches(ctx: Context) -> dict[str, Any]:
    """Top-activating patches (Zeiler & Fergus 2014) of the chosen layer's most active channels:
    for each, the 8 places in the images where it fires most, cut out around the map cell."""
    act = activation(ctx.model, ctx.layer)
    x = ctx.images.embed_x
    with torch.no_grad():
        a = torch.cat([act(xb) for xb in x.split(256)])  # (N, C, h, w)
    h, w = a.shape[-2:]
    side = x.shape[-1]
    cell = max(1, side // h)
    half = min(side // 2, cell)  # the window: two cells of the map around the cell's centre
    rows, channels = {}, a.mean((0, 2, 3)).argsort(descending=True)[:4].tolist()
    for ch in channels:
        top = a[:, ch].flatten().topk(8).indices
        crops = []
        for idx in top.tolist():
            i, rem = divmod(idx, h * w)
            cy, cx = (rem // w + 0.5) * side / h, (rem % w + 0.5) * side / w
            y0 = int(min(max(cy - half, 0), side - 2 * half))
            x0 = int(min(max(cx - half, 0), side - 2 * half))
            crops.append(x[i, :, y0:y0 + 2 * half, x0:x0 + 2 * half])
        rows[f"channel {ch}"] = torch.stack(crops)
    grids.image_grid(ctx.out / "patches.png", rows)
    return {"patches_layer": ctx.layer_name, "patches_channels": channels, "patches_window_px": 2 * half}
