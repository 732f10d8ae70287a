"""``paperlab explain --config C --ckpt_path K --method M``: see inside a classification checkpoint.

Attribution maps (vanilla gradient, SmoothGrad, integrated gradients, occlusion, deconvnet,
guided backprop, Grad-CAM, CAM where the head allows), adversarial examples (FGSM, PGD L-inf/L2,
targeted), fooling images, class visualisation, feature inversion, DeepDream, first-layer
filters, top-activating patches, a t-SNE of the penultimate features and nearest neighbours in
feature against pixel space. On ShapesWorld every figure is measured
against the labelled object's mask, beside its trivial baseline. Writes PNGs and
``<method>.json`` to ``<run>/explain/`` (the folder holding ``checkpoints/``).

    paperlab explain --config configs/alexnet/demo.yaml --ckpt_path runs/alexnet-demo/ID/checkpoints/last.ckpt --method all
    paperlab explain ... --method gradcam --layer features.4    # any conv layer; a wrong name lists them
    paperlab explain ... --images my_photos/            # an image folder instead of the val split
    paperlab explain --config configs/c3d/demo.yaml --ckpt_path ...   # a video net: the parts that apply to clips
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from contracts.errors import ConfigError
from datamodules.video import VideoDataModule
from experiments.explain.data import folder_images, val_images
from experiments.explain.loading import load_classifier, pick_layer
from experiments.explain.parts_clips import CLIP_SECTIONS, clip_baselines, strip, val_clips
from experiments.explain.sections import NO_MASKS, SECTIONS, Context, baselines

PER_METHOD = ("pointing_game", "pointing_game_tolerant", "mask_mass", "deletion_auc", "sanity_rank_correlation", "sanity_barely_changes",
              "skipped", "pointing_game_per_frame", "frame_mass_share")


def run_folder(ckpt_path: str) -> Path:
    """The run folder of a checkpoint: the parent of ``checkpoints/``, else the file's folder."""
    p = Path(ckpt_path).resolve().parent
    return p.parent if p.name == "checkpoints" else p


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(prog="paperlab explain", description="\n\n".join(doc.split("\n\n")[:2]),
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc.split("\n\n", 2)[2])
    p.add_argument("--config", action="append", required=True, help="config file(s) of the run, as for fit")
    p.add_argument("--ckpt_path", required=True, help="the classification checkpoint")
    p.add_argument("--method", default="all", choices=["all", *SECTIONS], help="one part, or all of them")
    p.add_argument("--layer", default=None, help="conv layer for Grad-CAM, inversion, DeepDream (default: the last)")
    p.add_argument("--samples", type=int, default=200, help="validation images measured")
    p.add_argument("--embed_samples", type=int, default=1000, help="images in the t-SNE / kNN")
    p.add_argument("--eps", type=int, nargs="+", default=[1, 2, 4, 8], help="attack radii in 1/255")
    p.add_argument("--pgd_steps", type=int, default=10, help="PGD iterations")
    p.add_argument("--steps", type=int, default=200, help="gradient-ascent steps (fooling, class models, inversion)")
    p.add_argument("--transfer_ckpt", default=None, help="an independently trained checkpoint of the same config")
    p.add_argument("--images", default=None, help="an image folder to explain instead of the val split")
    p.add_argument("--out", type=Path, default=None, help="output folder (default <run>/explain)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wandb", action="store_true", help="also log the grids and figures as a W&B run (offline by default)")
    args, overrides = p.parse_known_args(argv)
    for name in ("samples", "embed_samples", "pgd_steps", "steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be a positive count, got {getattr(args, name)}")
    if any(e < 0 for e in args.eps):
        raise ConfigError(f"--eps must be non-negative (in 1/255), got {args.eps}")
    return args, overrides


def explain(args: argparse.Namespace, overrides: list[str]) -> tuple[dict[str, Any], Path]:
    """Run ``args.method`` (or every part) and return the JSON's content and its path."""
    torch.manual_seed(args.seed)
    started = time.time()
    model, dm = load_classifier(args.config, args.ckpt_path, overrides)
    layer_name, layer = pick_layer(model, args.layer)
    transfer, note = None, "no --transfer_ckpt given: train a second seed and pass its checkpoint"
    if args.transfer_ckpt:
        transfer, _ = load_classifier(args.config, args.transfer_ckpt, overrides)
        note = None
    video = isinstance(dm, VideoDataModule)
    sections = CLIP_SECTIONS if video else SECTIONS
    if args.method != "all" and args.method not in sections:
        raise ConfigError(f"--method {args.method} does not apply to video clips; valid: all, {', '.join(sections)}")
    if video and args.images:
        raise ConfigError("--images is for image classifiers; a video net is explained on its config's val clips")
    if video:
        try:
            images = val_clips(dm, args.samples)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    elif args.images:
        names = list(getattr(dm, "class_names", None) or [])
        if not names:  # a class-folder source knows its classes once set up
            dm.setup("validate")
            names = list(getattr(dm, "class_names", None) or [])
        if not names:
            raise ConfigError("--images needs the config's class names (a ShapesWorld or class-folder source)")
        images = folder_images(args.images, int(dm.hparams.image_size), names, model, args.samples)
    else:
        images = val_images(dm, args.samples, args.embed_samples)
    out = args.out or run_folder(args.ckpt_path) / "explain"
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(model, images, layer_name, layer, out, args.eps, args.pgd_steps, args.steps, transfer, note,
                  shown=4 if video else 8, seed=args.seed)
    result: dict[str, Any] = {"config": args.config, "ckpt_path": str(args.ckpt_path), "method": args.method,
                              "layer": layer_name, "samples": len(images.x), "images": args.images or "val split",
                              "labels_note": images.labels_note, "timings_s": {}}
    if images.masks is None:
        result["mask_metrics"] = NO_MASKS
    result.update(clip_baselines(ctx) if video else baselines(ctx))
    maps = {}
    for name in sections if args.method == "all" else [args.method]:
        start = time.perf_counter()
        part = sections[name](ctx)
        maps.update(part.pop("_maps", {}))
        for key, value in part.items():
            if key in PER_METHOD:
                result.setdefault(key, {}).update(value)
            else:
                result[key] = value
        result["timings_s"][name] = round(time.perf_counter() - start, 2)
        print(f"[{name}: {result['timings_s'][name]:.1f} s]", flush=True)
    if len(maps) > 1:
        from experiments.explain.grids import attribution_grid

        shown_x, shown_m = images.x[:ctx.shown], None if images.masks is None else images.masks[:ctx.shown]
        if video:  # the frames of each clip side by side
            shown_x, shown_m = strip(shown_x), None if shown_m is None else strip(shown_m)
        attribution_grid(out / "attributions.png", shown_x, maps, shown_m)
    result["wall_s"] = round(time.time() - started, 1)
    path = out / f"{args.method}.json"
    path.write_text(json.dumps(result, indent=2))
    if args.wandb:
        from experiments.explain.tracking import log_to_wandb

        pngs = sorted(p for p in out.glob("*.png") if p.stat().st_mtime >= started)  # this call's grids
        print(f"wandb: {log_to_wandb(run_folder(args.ckpt_path), pngs, result)}")
    return result, path


def summary(r: dict[str, Any]) -> list[str]:
    """The figures for stdout, each beside its trivial baseline."""
    f = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)
    lines = [(f"samples {r['samples']} ({r['images']}), layer {r['layer']}, clean acc {f(r['clean_acc'])} "
              f"(chance {f(r['chance_acc'])})")]
    if "pointing_game" in r or "deletion_auc" in r:
        cols = ("pointing_game", "pointing_game_tolerant", "mask_mass", "deletion_auc", "sanity_rank_correlation")
        lines.append(f"{'method':22s} {'pointing':>9s} {'point±tol':>9s} {'mask mass':>9s} {'deletion':>9s} "
                     f"{'sanity rho':>10s}")
        for m in r.get("pointing_game", r.get("deletion_auc", {})):
            flag = " barely changes" if r.get("sanity_barely_changes", {}).get(m) else ""
            lines.append(f"{m:22s} " + " ".join(f"{f(r.get(c, {}).get(m, '-')):>{10 if c[0] == 's' else 9}s}"
                                                 for c in cols) + flag)
        lines.append(f"{'baseline':22s} {f(r['mask_share']):>9s} {f(r.get('mask_share_tolerant', '-')):>9s} "
                     f"{f(r['mask_share']):>9s} {f(r['deletion_auc_random']):>9s}   (mask share, grown by "
                     f"{r.get('pointing_tolerance_px', '-')} px for ±tol; random deletion order)"
                     if isinstance(r["mask_share"], float) else f"mask metrics {r['mask_share']}")
        for m, why in r.get("skipped", {}).items():
            lines.append(f"{m}: {why}")
        if "gradcam_pointing_game_by_layer" in r:
            lines.append("gradcam pointing by layer: " + ", ".join(
                f"{k}: {f(v)}" for k, v in r["gradcam_pointing_game_by_layer"].items()))
        if "gradcam_pointing_ceiling" in r:
            lines.append(f"gradcam pointing ceiling of layer {r['layer']}'s grid: "
                         f"{f(r['gradcam_pointing_ceiling'])} (the best any map on that grid can score)")
    for key in ("pointing_game_per_frame", "fgsm_acc", "pgd_linf_acc", "pgd_l2_acc", "transfer_pgd_linf_acc", "pgd_targeted_success"):
        if key in r:
            lines.append(f"{key}: " + ", ".join(f"{k}: {f(v)}" for k, v in r[key].items()))
    for key in ("gradcam_grid", "frame_occlusion_drop", "frozen_clip_acc", "transfer_clean_acc", "pgd_linf_max_perturbation", "fooling_confidence", "fooling_steps", "classviz_self_confidence",
                "classviz_transfer_confidence", "occlusion_drop_object", "occlusion_drop_background",
                "inversion_feature_rel_error", "inversion_pixel_correlation", "deepdream_activation_gain",
                "tsne_knn_acc", "tsne_knn_acc_random_init", "knn_acc_features", "knn_acc_pixels",
                "nn5_same_class_features", "nn5_same_class_pixels"):
        if key in r:
            v = r[key]
            if isinstance(v, list):
                v = "[" + ", ".join(f(x) for x in v) + "]"
            lines.append(f"{key}: " + (", ".join(f"{k}: {f(x)}" for k, x in v.items()) if isinstance(v, dict) else f(v)))
    if "wall_s" in r:
        lines.append(f"wall time: {r['wall_s']:.1f} s")
    return lines


def main(argv: list[str]) -> None:
    """``paperlab explain``: see the module docstring."""
    for name in ("lightning.pytorch", "lightning.fabric"):  # "Seed set", "GPU available": no trainer runs here
        logging.getLogger(name).setLevel(logging.WARNING)
    args, overrides = parse(argv)
    result, path = explain(args, overrides)
    print("\n".join(summary(result)))
    print(f"explain: {path}")
