"""The segmentation nets side by side on the U-Net demo's world: one process measures them all.

Each row is a config (and overrides) with the run folder whose ``last.ckpt`` holds its trained
weights: the demos of ``configs/{unet,fcn,segnet,deconvnet,deeplab}/demo.yaml`` and the seed-0
trials of ``configs/sweeps/fcn_stride.yaml`` for FCN-32s/16s. For every row, in this one
process: val/miou and val/boundary_acc of the checkpoint on the demo's validation set (the
family's metric code), trainable parameters, forward FLOPs at batch 1 (``FlopCounterMode``),
peak activation memory of a batch-1 forward (``lit_modules.metrics.live_memory``: live ATen
outputs, weights not counted) and batch-1 latency (``experiments.bench.latency.fps``: the models
timed interleaved on the same images, median). A row without a finished run still gets its
cost columns (they do not depend on the weights); U-Net at depth 4 is such a row, the U-Net with
five encoder conv stages as the SegNet paper's (the SegNet demo's four are the U-Net demo's).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from experiments.bench.latency import batch1_inputs, fps
from experiments.build import build, load_weights
from experiments.report.report_rows import in_repo
from experiments.reproduce.cached import cached_result
from experiments.sweep.sweep import is_done
from lit_modules.metrics.live_memory import forward_peak_bytes
from lit_modules.segmentation import seg_metrics

# (label, config, overrides, where its trained run is: ("demo", name) or ("sweep", sweep name, overrides it ran with))
ROWS: list[tuple[str, str, list[str], tuple]] = [
    ("U-Net (depth 3, the demo)", "configs/unet/demo.yaml", [], ("demo", "unet")),
    ("U-Net (depth 4: five encoder stages, as SegNet's paper)", "configs/unet/demo.yaml", ["--model.init_args.depth=4"], ("none",)),
    ("FCN-32s", "configs/fcn/demo.yaml", ["--model.init_args.stride=32"],
     ("sweep", "fcn-stride", ["--model.init_args.stride=32", "--seed_everything=0"])),
    ("FCN-16s", "configs/fcn/demo.yaml", ["--model.init_args.stride=16"],
     ("sweep", "fcn-stride", ["--model.init_args.stride=16", "--seed_everything=0"])),
    ("FCN-8s (the demo)", "configs/fcn/demo.yaml", [], ("demo", "fcn")),
    ("SegNet (4 stages, the demo)", "configs/segnet/demo.yaml", [], ("demo", "segnet")),
    ("DeconvNet", "configs/deconvnet/demo.yaml", [], ("demo", "deconvnet")),
    ("DeepLab v3+ small (ASPP at OS 8, decoder at stride 2)", "configs/deeplab/demo.yaml", [], ("demo", "deeplab")),
]
STEP = "seg_table"  # the name --only matches
LATENCY_IMAGES = 60


def _run_dir(where: tuple, runs: Path) -> Path | None:
    if where[0] == "demo":
        d = runs / f"{where[1]}-demo" / "reproduce"
        return d if is_done(d) else None
    if where[0] == "sweep":
        for record in sorted((runs / "sweeps" / where[1]).glob("*/results.json")):
            cmd = json.loads(record.read_text()).get("provenance", {}).get("command", [])
            if all(a in cmd for a in where[2]) and is_done(record.parent):
                return record.parent
    return None


def _epochs(run: Path) -> int | None:
    return json.loads((run / "results.json").read_text()).get("meta", {}).get("epochs")


def _quality(model: torch.nn.Module, batches: list, num_classes: int) -> dict[str, float]:
    metrics = seg_metrics(num_classes, "val/")
    model.eval()
    with torch.inference_mode():
        for images, masks in batches:
            metrics.update(model(images).argmax(1), masks)
    return {k: float(v) for k, v in metrics.compute().items()}


def measure(runs: Path, root: Path) -> dict | None:
    """Every row whose config is under ``root`` measured in this process; the JSON the page is written
    from (None: no segmentation config there, e.g. a reproduce of another configs folder)."""
    torch.manual_seed(0)
    models, rows, val = [], [], None
    for label, config, overrides, where in ROWS:
        if not (root / config).is_file():
            continue
        model, dm, _ = build([str(root / config)], overrides)
        if val is None:  # every row is on the same world: one validation set
            dm.setup("validate")
            val = list(dm.val_dataloader())
        run = _run_dir(where, runs)
        row: dict = {"label": label, "config": config, "overrides": overrides,
                     "run": in_repo(run) if run else None, "epochs": _epochs(run) if run else None}
        if run is not None:
            load_weights(model, run / "checkpoints" / "last.ckpt")
            row.update(_quality(model, val, model.hparams.num_classes))
        model.eval()
        x = val[0][0][:1]  # (1, 3, H, W)
        row["params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            model(x)
        row["flops"] = counter.get_total_flops()
        row["peak_act_bytes"] = forward_peak_bytes(model, x)
        models.append(model)
        rows.append(row)
    if not rows:
        return None
    for row, f in zip(rows, fps(models, batch1_inputs(val, LATENCY_IMAGES)), strict=True):
        row["latency_ms"] = 1000.0 / f
    return {"rows": rows, "threads": torch.get_num_threads(), "image": list(val[0][0].shape[-2:])}


def _si(v: float, unit: str = "") -> str:
    for div, p in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if v >= div:
            return f"{v / div:.2f}{p}{unit}"
    return f"{v:.0f} {unit}".rstrip()


def table(result: dict) -> list[str]:
    """The page section's lines."""
    h, w = result["image"]
    lines = [("| Net | Epochs | val/miou | val/boundary_acc | Params | FLOPs (fwd, bs 1) | Peak activations (bs 1) "
             "| Latency bs 1 | Run |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        q = (f"{r['val/miou']:.3f} | {r['val/boundary_acc']:.3f}" if "val/miou" in r else "not trained | —")
        lines.append(f"| {r['label']} | {r['epochs'] or '—'} | {q} | {_si(r['params'])} | {_si(r['flops'])} | "
                     f"{r['peak_act_bytes'] / 2**20:.2f} MiB | {r['latency_ms']:.2f} ms | "
                     f"{('`' + r['run'] + '`') if r['run'] else '—'} |")
    lines += ["", (f"{h}x{w} px ShapesWorld validation images, {result['threads']} thread(s). Peak activations: the "
                   "largest sum of live tensors an inference forward holds (every ATen op output, counted per "
                   "storage until freed; `lit_modules/metrics/live_memory.py`), weights not included. Latency: "
                   "median of the models timed interleaved on the same images (`paperlab bench --mode latency`'s "
                   "timer). FCN-32s/16s: the seed-0 trials of `configs/sweeps/fcn_stride.yaml` at its epochs.")]
    return lines


def seg_result(runs: Path, root: Path, compute: bool) -> dict | None:
    """The cached measurement in ``runs/seg_table.json``; measured again when ``compute``.

    Args:
        root: the folder holding ``configs/`` (the rows' configs are relative to it).
    """
    return cached_result(runs / "seg_table.json", compute, lambda: measure(runs, root))
