"""``paperlab bench --mode det_speed``: the detection family's speed table, every method in one process.

For each row (a demo config; ``ROWS``, one line per method), in this one process and on the same
validation images of the first row's world:

* test time per image at batch 1, split into "proposals" / "features" / "head" where the module
  defines ``detect_stages(images) -> (predictions, seconds)`` (``lit_modules.ops.stages``; a
  one-stage net reports proposals 0), else timed whole. The models run interleaved (image i on
  every model, then image i + 1) in ``torch.inference_mode``, warm-up images dropped; each figure
  is the median over the images (so the stages need not add up exactly to the total's median);
* training time per image: the median of a few plain PyTorch steps (the module's own
  ``training_step``, backward, SGD step) on one training batch of the config, ÷ its batch size;
* val/map50 and val/map of the method's demo run (``<runs>/<method>-demo/reproduce/results.json``,
  the layout ``paperlab reproduce`` writes); a checkpoint given with ``--ckpt CONFIG=PATH``, or a
  row whose overrides change the demo's test-time model (Fast R-CNN + SVD), is evaluated here on
  the config's validation set.

The rows "~2000 proposals" (``TEST_ONLY``) run the R-CNN and Fast R-CNN demo runs' weights on the
papers' window count (denser selective search, ``DENSE_SS``): test time and quality, no training step.
The timings do not depend on training (a row without a run still gets them). Beside them, the
papers' figures and the ratios that made each paper matter (``PAPER``, ``RATIOS``), and the windows
an image R-CNN and Fast R-CNN score (the selective-search boxes of the timed images): R-CNN's cost
grows with them, Fast R-CNN's conv pass does not. ``proposal_mode`` times those rows with another
selective-search mode at test time ("quality": ~3x the boxes of R-CNN's "fast"); their quality,
measured with the cached proposals of the run, is then not evaluated (timing only).
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from contracts.errors import ConfigError
from experiments.bench.latency import batch1_inputs
from experiments.bench.steps import plain_steps
from experiments.build import build, load_weights
from experiments.sweep.sweep import is_done
from lit_modules.detection import DetectionModule, map_metric
from lit_modules.ops.stages import STAGES

# (label, demo config, overrides): one line per method; a row whose config is absent is skipped.
ROWS: list[tuple[str, str, list[str]]] = [
    ("R-CNN", "configs/rcnn/demo.yaml", []),
    ("Fast R-CNN", "configs/fast_rcnn/demo.yaml", []),
    ("Fast R-CNN + SVD", "configs/fast_rcnn/demo.yaml", ["--model.init_args.truncated_svd=32"]),
    ("Faster R-CNN", "configs/faster_rcnn/demo.yaml", []),
    ("SSD", "configs/ssd/demo.yaml", []),
    ("YOLO", "configs/yolo/demo.yaml", []),
]
# The papers' window count: both papers score ~2000 selective-search boxes an image, the demos' fast mode finds
# ~150 on a 96 px scene; quality mode with k 30 on the scene resized 2x finds ~2000 (mean of 12 scenes before the
# cap at max_proposals, 2000; ~1600 after it).
# Same weights as the rows above (the demo runs): test time and quality only, on the validation split's proposals
# cached with these settings (``python -m datamodules.proposals --config C --splits val --proposals quality
# --proposal_k 30 --proposal_scale 2``); these rows (``TEST_ONLY``) are not timed in training.
DENSE_SS = {"proposals": "quality", "proposal_k": "30", "proposal_scale": "2.0"}
DENSE = ([f"--data.init_args.{k}={v}" for k, v in DENSE_SS.items()]
         + [f"--model.init_args.{'proposal_mode' if k == 'proposals' else k}={v}" for k, v in DENSE_SS.items()])
ROWS += [("R-CNN, ~2000 proposals", "configs/rcnn/demo.yaml", DENSE),
         ("Fast R-CNN, ~2000 proposals", "configs/fast_rcnn/demo.yaml", DENSE)]
TEST_ONLY = {"R-CNN, ~2000 proposals", "Fast R-CNN, ~2000 proposals"}  # no training step timed, val split only
# The papers' figures (VGG-16, PASCAL VOC 2007 test; GPUs of their time): test s per image without
# proposals, with them, training hours, mAP@0.5.
PAPER: dict[str, dict[str, Any]] = {
    "R-CNN": {"test_s": 47.0, "train_h": 84.0, "map50": 0.660,
              "source": "Girshick 2015 (Fast R-CNN) Table 4, K40; selective search ~2 s/image on a CPU"},
    "Fast R-CNN": {"test_s": 0.32, "test_with_proposals_s": 2.3, "train_h": 9.5, "map50": 0.669,
                   "source": "Girshick 2015 Table 4, K40; ~2.3 s with selective search"},
    "Fast R-CNN + SVD": {"test_s": 0.22, "map50": 0.666, "source": "Girshick 2015 Table 4 (truncated SVD)"},
    "Faster R-CNN": {"test_with_proposals_s": 0.198, "map50": 0.699,
                     "source": "Ren 2015 Table 5 (VGG-16, K40, 198 ms with RPN); 07 trainval, Table 2"},
    "SSD": {"test_with_proposals_s": 1 / 46, "map50": 0.743,
            "source": "Liu 2016 Table 7 (SSD300, Titan X, batch 1, 46 FPS; Faster R-CNN 7 FPS there); 07+12"},
    "YOLO": {"test_with_proposals_s": 1 / 45, "map50": 0.634,
             "source": "Redmon 2016 Table 1 (Titan X, 45 FPS; Faster R-CNN VGG-16 7 FPS there); 07+12"},
}
PAPER["R-CNN, ~2000 proposals"] = {k: v for k, v in PAPER["R-CNN"].items() if k != "source"}  # the papers' count
PAPER["Fast R-CNN, ~2000 proposals"] = {k: v for k, v in PAPER["Fast R-CNN"].items() if k != "source"}
# (what, numerator row, denominator row, figure compared: "test" (no proposals) | "total" | "train", paper ratio)
RATIOS: list[tuple[str, str, str, str, float]] = [
    ("test without proposals: R-CNN / Fast R-CNN", "R-CNN", "Fast R-CNN", "test", 47.0 / 0.32),
    ("test without proposals: Fast R-CNN / + SVD", "Fast R-CNN", "Fast R-CNN + SVD", "test", 0.32 / 0.22),
    ("training: R-CNN / Fast R-CNN", "R-CNN", "Fast R-CNN", "train", 84.0 / 9.5),
    ("test with proposals: Fast R-CNN / Faster R-CNN", "Fast R-CNN", "Faster R-CNN", "total", 2.3 / 0.2),
    ("test: Faster R-CNN / SSD", "Faster R-CNN", "SSD", "total", 46 / 7),
    ("test: Faster R-CNN / YOLO", "Faster R-CNN", "YOLO", "total", 45 / 7),
    ("test without proposals, ~2000 windows: R-CNN / Fast R-CNN", "R-CNN, ~2000 proposals",
     "Fast R-CNN, ~2000 proposals", "test", 47.0 / 0.32),
    ("test with proposals: Fast R-CNN at ~2000 windows / Faster R-CNN", "Fast R-CNN, ~2000 proposals",
     "Faster R-CNN", "total", 2.3 / 0.2),
]
WARMUP = 3


def _quality_from_run(run: Path) -> dict[str, float]:
    metrics = json.loads((run / "results.json").read_text()).get("metrics", {})
    return {k: metrics[k] for k in ("val/map50", "val/map") if k in metrics}


def _evaluate(model: DetectionModule, batches: Iterable) -> dict[str, float]:
    metric = map_metric(False, model.val_map.max_detection_thresholds[-1])  # the module's own count (SSD: 200)
    with torch.inference_mode():
        for images, targets in batches:  # predict_batch: as in validation (R-CNN, Fast R-CNN: the cached proposals)
            metric.update(DetectionModule.for_metric(model.predict_batch(images, targets)),
                          DetectionModule.for_metric(targets))
    r = metric.compute()
    return {"val/map50": float(r["map_50"]), "val/map": float(r["map"])}


def _train_seconds(model: torch.nn.Module, batch: Any, steps: int) -> float:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-6, momentum=0.9)  # the weights are (re)loaded after this
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log() without a trainer
        return statistics.median(plain_steps(model, batch, steps, opt, None))


def _timed(model: torch.nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
    if hasattr(model, "detect_stages"):
        _, seconds = model.detect_stages(images)
        return {**{s: seconds.get(s, 0.0) for s in STAGES}, "total": sum(seconds.values())}
    t = time.perf_counter()
    model(images)
    return {"total": time.perf_counter() - t}


def measure(root: Path, runs: Path, images: int = 40, train_steps: int = 3, ckpts: dict[str, str] | None = None,
            rows: list[tuple[str, str, list[str]]] | None = None, proposal_mode: str | None = None) -> dict | None:
    """Every row whose config is under ``root``, measured in this process (None: no such config).

    ``proposal_mode``: test-time selective-search mode of the rows that take proposals (timing only).
    """
    torch.manual_seed(0)
    ckpts = ckpts or {}
    models, out, val = [], [], None
    for label, config, overrides in rows or ROWS:
        if not (root / config).is_file():
            continue
        model, dm, _ = build([str(root / config)], overrides)
        test_only = label in TEST_ONLY  # other proposals, the same trained model
        dm.setup("validate" if test_only else "fit")
        row: dict[str, Any] = {"label": label, "config": config, "overrides": overrides, "paper": PAPER.get(label, {})}
        if not test_only:
            batch = next(iter(dm.train_dataloader()))
            row["train_s_per_image"] = _train_seconds(model, batch, train_steps) / len(batch[0])
        run = runs / f"{Path(config).parent.name}-demo" / "reproduce"
        ckpt = ckpts.get(config) or (run / "checkpoints" / "last.ckpt" if is_done(run) else None)
        model.eval()
        retimed = proposal_mode is not None and "proposal_mode" in model.hparams
        if retimed:
            model.hparams.proposal_mode = proposal_mode  # read by the module's selective search at each call
            row["proposal_mode"] = proposal_mode
        if ckpt is not None:
            load_weights(model, ckpt)
            row["weights"] = str(ckpt)
        if val is None:  # every row is on the first row's world: one set of timed images
            val = list(dm.val_dataloader())
        if retimed:
            pass  # timing only: the run's quality was measured on other proposals
        elif ckpt is not None and (config in ckpts or overrides):  # overrides change what the run measured
            row.update(_evaluate(model, dm.val_dataloader()))
        elif ckpt is not None:
            row.update(_quality_from_run(run))
        models.append(model)
        out.append(row)
    if not out:
        return None
    inputs = batch1_inputs(val, images + WARMUP)
    inputs = [inputs[i % len(inputs)] for i in range(images + WARMUP)]  # a small val set is cycled
    times: list[list[dict[str, float]]] = [[] for _ in models]
    windows: list[list[int]] = [[] for _ in models]
    for m, n in zip(models, windows):  # the windows an image of the rows that score proposals, counted as timed
        if hasattr(m, "_proposals"):
            m._proposals = _counting(m._proposals, n)
    with torch.inference_mode():
        for i, x in enumerate(inputs):
            for m, ts in zip(models, times):
                t = _timed(m, x)
                if i >= WARMUP:
                    ts.append(t)
    for row, ts, n in zip(out, times, windows):
        row["test_s"] = {k: statistics.median(t[k] for t in ts) for k in ts[0]}
        if n[WARMUP:]:
            row["windows_per_image"] = sum(n[WARMUP:]) / len(n[WARMUP:])
    return {"rows": out, "ratios": ratios(out), "threads": torch.get_num_threads(), "images": len(inputs) - WARMUP,
            "image": list(inputs[0][0].shape[-2:])}


def _counting(proposals, counts: list[int]):
    """``proposals`` (a module's selective search), appending each image's box count to ``counts``."""
    def counted(images):
        boxes = proposals(images)
        counts.extend(len(b) for b in boxes)
        return boxes
    return counted


def figure(row: dict, what: str) -> float | None:
    """A row's measured seconds: "test" (features + head, no proposals), "total" or "train"."""
    t = row["test_s"]
    if what == "train":
        return row.get("train_s_per_image")
    if what == "test":
        return t["features"] + t["head"] if "features" in t else None
    return t["total"]


def ratios(rows: list[dict]) -> list[dict]:
    by = {r["label"]: r for r in rows}
    out = []
    for what, num, den, kind, paper in RATIOS:
        a = figure(by[num], kind) if num in by else None
        b = figure(by[den], kind) if den in by else None
        out.append({"what": what, "paper": paper, "measured": a / b if a is not None and b else None})
    return out


def _ms(v: float | None) -> str:
    return "—" if v is None else (f"{1000 * v:.1f} ms" if v < 1 else f"{v:.2f} s")


def table(result: dict) -> list[str]:
    """The markdown lines of the speed table and the ratios."""
    lines = [("| Method | Proposals | Features | Head | Test total (bs 1) | Train / image | val/map50 | val/map "
              "| Paper: test w/o / with proposals | Paper: train | Paper: mAP@0.5 |"), "|---" * 11 + "|"]
    for r in result["rows"]:
        t, p = r["test_s"], r["paper"]
        stages = " | ".join(_ms(t.get(s)) for s in STAGES)
        missing = "not evaluated" if "proposal_mode" in r and "weights" in r else "not trained"
        q = " | ".join(f"{r[k]:.3f}" if k in r else missing for k in ("val/map50", "val/map"))
        paper = (f"{_ms(p.get('test_s'))} / {_ms(p.get('test_with_proposals_s'))} | "
                 f"{str(p['train_h']) + ' h' if 'train_h' in p else '—'} | {p.get('map50', '—')}")
        lines.append(f"| {r['label']} | {stages} | {_ms(t['total'])} | {_ms(r.get('train_s_per_image'))} | {q} | {paper} |")
    lines += ["", "| Ratio | Paper | Measured here |", "|---|---|---|"]
    for x in result["ratios"]:
        m = f"{x['measured']:.1f}x" if x["measured"] is not None else "— (a row is missing)"
        lines.append(f"| {x['what']} | {x['paper']:.1f}x | {m} |")
    h, w = result["image"]
    scored = [r for r in result["rows"] if "windows_per_image" in r]
    mode = scored[0].get("proposal_mode") if scored else None
    windows = ("Windows scored an image (selective search at test time"
               f"{f', {mode} mode' if mode else ''}; the papers: ~2000 a VOC image): "
               + ", ".join(f"{r['label']} {r['windows_per_image']:.0f}" for r in scored) + ". ") if scored else ""
    if any(r["overrides"] == DENSE for r in result["rows"]):
        windows += ("Rows \"~2000 proposals\": the demo runs' weights on selective search's quality mode with k "
                    f"{DENSE_SS['proposal_k']} on the image resized {float(DENSE_SS['proposal_scale']):g}x (at most "
                    "2000 boxes), not trained again (Train / image: —). ")
    lines += ["", (f"{windows}ShapesWorld {h}x{w} px validation images, {result['images']} timed per method at batch 1 "
                   f"(models interleaved, medians), {result['threads']} thread(s); `—` in a stage column: the "
                   "module has no `detect_stages` and is timed whole. Training: median of plain steps on one "
                   "training batch of the demo config, per image. Papers' sources: "
                   + "; ".join(f"{r['label']}: {r['paper']['source']}" for r in result["rows"] if "source" in r["paper"])
                   + ". Their GPUs differ between papers (K40, Titan X): compare ratios, not seconds.")]
    return lines


def run(configs: list[str], ckpts: list[str], runs: Path, images: int, train_steps: int,
        json_path: Path | None, proposal_mode: str | None = None) -> dict:
    """The bench mode: ``configs`` (default: every row of ``ROWS``), ``ckpts`` as ``CONFIG=PATH``."""
    pairs = dict(c.split("=", 1) if "=" in c else (None, c) for c in ckpts)
    if None in pairs:
        raise ConfigError(f"--ckpt {pairs[None]!r}: give CONFIG=PATH (which row the checkpoint is for)")
    known = {c for _, c, _ in ROWS}
    rows = ([r for r in ROWS if r[1] in configs] + [(c, c, []) for c in configs if c not in known]) if configs else ROWS
    for c, path in pairs.items():
        if c not in {r[1] for r in rows}:
            raise ConfigError(f"--ckpt {c}={path}: {c} is not one of the table's configs")
    result = measure(Path.cwd(), runs, images, train_steps, pairs, rows, proposal_mode)
    if result is None:
        raise ConfigError(f"none of the configs {[r[1] for r in rows]} exists under {Path.cwd()}")
    print("\n".join(table(result)))
    if json_path:
        json_path.write_text(json.dumps(result, indent=1))
    return result
