"""The parts of ``paperlab explain --method all``: each takes the shared ``Context``, writes its
PNGs and returns its figures for the JSON. ``SECTIONS`` maps each ``--method`` name to its part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from experiments.explain import adversarial as adv
from experiments.explain import embedding, grids, metrics, synthesis
from experiments.explain.attributions import METHODS, attribute, cam_head
from experiments.explain.data import Images
from experiments.explain.loading import PixelModel, conv_layers, randomised

NO_MASKS = "skipped: these images have no object masks (only the ShapesWorld val split has)"
SANITY_FLAG = 0.5  # mean rank correlation trained vs randomised at or above which a map "barely changes"


@dataclass
class Context:
    """What every part needs: the model (and a randomised and an independent one), the images,
    the conv layer, the output folder and the numeric options."""

    model: PixelModel
    images: Images
    layer_name: str
    layer: nn.Module
    out: Path
    eps: list[int]
    pgd_steps: int
    steps: int
    transfer: PixelModel | None = None
    transfer_note: str | None = None
    shown: int = 8
    seed: int = 0
    _random: PixelModel | None = field(default=None, repr=False)

    @property
    def random(self) -> PixelModel:
        if self._random is None:
            self._random = randomised(self.model, self.seed)
        return self._random

    def layer_of(self, model: PixelModel) -> nn.Module:
        return dict(model.net.named_modules())[self.layer_name]


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
        k = ctx.shown
        grids.attribution_grid(ctx.out / f"{name}.png", x[:k], {name: maps[:k], f"{name} (random net)": rand[:k]},
                               None if masks is None else masks[:k])
        out["_maps"] = {name: maps[:k]}
        return out

    return run


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
    feats = _activation(ctx.model, ctx.layer)
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
    act = _activation(ctx.model, ctx.layer)
    x = ctx.images.x[:ctx.shown]
    dream = synthesis.deepdream(act, x, steps=max(1, ctx.steps // 4))
    with torch.no_grad():
        gain = (act(dream).pow(2).mean() / act(x).pow(2).mean().clamp(min=1e-12)).item()
    grids.image_grid(ctx.out / "deepdream.png", {"image": x, f"dream {ctx.layer_name}": dream})
    return {"deepdream_activation_gain": gain, "deepdream_layer": ctx.layer_name}


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
    act = _activation(ctx.model, ctx.layer)
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


def _activation(model: PixelModel, layer: nn.Module) -> Callable[[Tensor], Tensor]:
    """``x -> layer's output`` (the rest of the forward pass runs, its result is dropped)."""

    def f(x: Tensor) -> Tensor:
        got: list[Tensor] = []
        h = layer.register_forward_hook(lambda m, i, o: got.append(o))
        try:
            model(x)
        finally:
            h.remove()
        return got[0]

    return f


SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    **{name: attribution(name) for name in METHODS},
    "occlusion_drop": occlusion_drop, "adversarial": adversarial, "fooling": fooling,
    "classviz": classviz, "inversion": inversion, "deepdream": deepdream, "embedding": embed,
    "filters": filters, "patches": patches, "neighbours": neighbours,
}
