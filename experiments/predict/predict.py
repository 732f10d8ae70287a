"""``paperlab predict --config FILE --ckpt_path CKPT``: write a checkpoint's validation-split predictions
in the formats other tools and evaluation servers read, into ``<run>/predictions/``.

By the datamodule's family:

* detection: ``detections.json`` (COCO results: ``bbox`` xywh, ``score``, ``category_id``; Mask
  R-CNN adds ``segmentation`` as compressed RLE) and ``ground_truth.json`` (a COCO instances
  file of the same images and targets, ``iscrowd`` = crowd or VOC difficult), so that
  ``COCO("ground_truth.json").loadRes("detections.json")`` and ``COCOeval`` score them; the
  module's own ``map_metric`` on the same predictions is printed alongside. Boxes are in pixels of
  the image as the loader serves it: the original for the R-CNN configs (``resize: none``), the
  square-resized one for ``resize: square`` (YOLO), which an evaluation server would need scaled back.
* segmentation: ``label_maps/<index>.png``, 8-bit class indices at the network's input size.
* classification: ``probabilities.csv`` (index, target, predicted, one column per class).
* captioning: ``captions.json`` in COCO's caption results format (``image_id`` = index in the split).
* pose: ``keypoints.json`` in COCO's keypoint results format, one entry per person crop, the
  decoded heatmap maxima mapped back from the crop to image pixels (pixel-edge frame: pixel i
  spans [i, i + 1)); ``image_id`` is COCO's id, ShapesWorld's image index, else the crop's index.
* generation: ``samples.png``, a grid of the generator's samples: a conditional GAN's has one row
  per class (8 samples each; ``--classes 0 3`` picks the rows, a class outside the model's range is
  refused), InfoGAN's one row per categorical code value plus ``traversal_<j>.png`` (row = continuous
  code j from -1 to 1), an unconditional GAN's its fixed-noise grid.

The model is built without its pretrained-weights arguments (the checkpoint holds every weight).
The run folder is the one holding ``CKPT`` (``<run>/checkpoints/x.ckpt``), else ``--out``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import torch
import yaml

from contracts.errors import ConfigError
from datamodules.captioning import CaptioningDataModule
from datamodules.classification import ClassificationDataModule
from datamodules.detection import DetectionDataModule
from datamodules.generation import GenerationDataModule
from datamodules.pose import PoseDataModule
from datamodules.segmentation import SegmentationDataModule
from experiments.build import build, load_weights
from experiments.predict import formats


def load(model: torch.nn.Module, ckpt_path: Path) -> None:
    # Built without pretrained weights, a ResNet backbone has BatchNorm where training had torchvision's
    # FrozenBatchNorm2d: the same in eval mode, with one buffer more (num_batches_tracked). Nothing else may differ.
    load_weights(model, ckpt_path, ignore=lambda key: key.endswith("num_batches_tracked"))


def _source(ds: Any) -> Any:
    return getattr(ds, "base", ds)


def detection(model, dm, loader, out: Path) -> dict[str, float]:
    from lit_modules.detection import DetectionModule, map_metric

    src = _source(loader.dataset)
    cat_to_label = getattr(src, "cat_to_label", None)  # COCO: its category ids, else the labels themselves
    k = int(model.hparams.num_classes)
    category_of = {v: c for c, v in cat_to_label.items()} if cat_to_label else {c: c for c in range(1, k + 1)}
    names = list(getattr(src, "classes", None) or getattr(dm, "class_names", None) or [])
    metric = map_metric(model.masks, model.val_map.max_detection_thresholds[-1])  # the module's own count (SSD: 200)
    results, targets_all, sizes, ids, files = [], [], [], [], []
    with torch.no_grad():
        for images, targets in loader:
            preds = model([im.to(model.device) for im in images])
            preds = [{k: v.cpu() for k, v in p.items()} for p in preds]
            metric.update(DetectionModule.for_metric(preds), DetectionModule.for_metric(targets))
            for p, t, im in zip(preds, targets, images):
                raw_id = t.get("image_id", len(ids))
                ids.append(raw_id if isinstance(raw_id, int) else len(ids))
                files.append(str(raw_id))
                sizes.append(tuple(im.shape[-2:]))
                targets_all.append(t)
                results += formats.coco_results([p], [ids[-1]], category_of)
    if len(names) != len(category_of):
        names = [str(c) for c in sorted(category_of.values())]
    gt = formats.coco_ground_truth(targets_all, sizes, ids, names, category_of, files)
    (out / "detections.json").write_text(json.dumps(results))
    (out / "ground_truth.json").write_text(json.dumps(gt))
    r = metric.compute()
    keys = (("bbox_", ""), ("segm_", "segm_")) if model.masks else (("", ""),)
    return {f"{prefix}{m}": float(r[f"{kind}{m.replace('map50', 'map_50')}"]) for kind, prefix in keys
            for m in ("map", "map50")}


def pose(model, dm, loader, out: Path) -> dict[str, float]:
    from datamodules.pose_crops import crop_matrix

    crops = loader.dataset  # TopDownCrops: deterministic evaluation crops, one person each
    people, n = [], 0
    with torch.no_grad():
        for batch in loader:
            pred = model.predict_step([b.to(model.device) if torch.is_tensor(b) else b for b in batch], 0).cpu()
            for p in pred.numpy():  # (K, 3): x, y in crop pixels, heatmap maximum
                key, person = crops.source.items[n]  # (COCO image info | ShapesWorld image index | MPII name, Person)
                image_id = key["id"] if isinstance(key, dict) else key if isinstance(key, int) else n
                xy = formats.image_keypoints(p, crop_matrix(person.box, crops.out, crops.padding))
                people.append(formats.coco_keypoint_result(image_id, xy, p[:, 2]))
                n += 1
    (out / "keypoints.json").write_text(json.dumps(people))
    return {"people": n}


def segmentation(model, dm, loader, out: Path) -> dict[str, float]:
    n = 0
    with torch.no_grad():
        for images, _ in loader:
            labels = model(images.to(model.device)).argmax(1)
            formats.write_label_maps(labels, [f"{n + i:06d}" for i in range(len(labels))], out / "label_maps")
            n += len(labels)
    return {"images": n}


def classification(model, dm, loader, out: Path) -> dict[str, float]:
    rows: list[list[Any]] = []
    with torch.no_grad():
        for images, labels in loader:
            probs = model._logits(images.to(model.device)).softmax(-1).cpu()
            rows += formats.probability_rows(probs, labels, len(rows))
    names = list(getattr(dm, "class_names", None) or range(len(rows[0]) - 3 if rows else 0))
    formats.write_csv(out / "probabilities.csv", ["index", "target", "predicted", *map(str, names)], rows)
    return {"images": len(rows)}


def captioning(model, dm, loader, out: Path) -> dict[str, float]:
    captions: list[dict[str, Any]] = []
    with torch.no_grad():
        for batch in loader:
            for text in model.predict_step([b.to(model.device) if torch.is_tensor(b) else b for b in batch], 0):
                captions.append({"image_id": len(captions), "caption": text})
    (out / "captions.json").write_text(json.dumps(captions))
    return {"images": len(captions)}


def generation(model, dm, loader, out: Path, classes: list[int] | None = None) -> dict[str, float]:
    from PIL import Image

    from lit_modules.media import sample_grid

    def save(images: torch.Tensor, name: str) -> None:
        Image.fromarray(sample_grid(images, nrow=8)).save(out / name)

    if classes is not None or model.conditional:
        k = int(model.hparams.num_classes)
        labels = torch.tensor(classes if classes is not None else range(k), dtype=torch.long)
        model.check_labels(labels)  # before any sampling: a class outside the range is the user's mistake
        samples = model.generate(labels.repeat_interleave(8), torch.Generator().manual_seed(0))  # row = class
    else:
        samples = model.samples()
    save(samples, "samples.png")
    for j in range(getattr(model, "_codes", (0, 0))[1]):  # InfoGAN's continuous codes
        save(model.traversal(j), f"traversal_{j}.png")
    return {"images": len(samples)}


FAMILIES = ((DetectionDataModule, detection), (SegmentationDataModule, segmentation),
            (ClassificationDataModule, classification), (CaptioningDataModule, captioning),
            (PoseDataModule, pose), (GenerationDataModule, generation))


def run_dir_of(ckpt: Path, out: Path | None) -> Path:
    if out is not None:
        return out
    if ckpt.resolve().parent.name == "checkpoints":
        return ckpt.resolve().parent.parent / "predictions"
    raise ConfigError(f"--ckpt_path {ckpt} is not inside a run's checkpoints/ folder: give --out")


# Arguments that fetch pretrained weights: the checkpoint holds every weight, so predict builds the
# model without them (an offline machine needs no ImageNet file to predict from a fine-tuned run).
PRETRAINED_OFF = {"weights": "null", "weights_backbone": "null", "encoder_weights": "null", "pretrained": "false"}


def no_pretrained(configs: list[str]) -> list[str]:
    """``--model.init_args.K null`` for each pretrained-weights argument the configs' model class takes."""
    class_path = None
    for c in configs:
        model = (yaml.safe_load(Path(c).read_text()) or {}).get("model") or {}
        class_path = model.get("class_path", class_path) if isinstance(model, dict) else class_path
    if not class_path:
        return []
    module, name = class_path.rsplit(".", 1)
    params = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    return [a for k, v in PRETRAINED_OFF.items() if k in params for a in (f"--model.init_args.{k}", v)]


def run(configs: list[str], ckpt: Path, overrides: list[str], out: Path | None,
        classes: list[int] | None = None) -> tuple[Path, dict[str, float]]:
    out = run_dir_of(ckpt, out)
    model, dm, _ = build(configs, [*no_pretrained(configs), *overrides])
    writer = next((w for cls, w in FAMILIES if isinstance(dm, cls)), None)
    if writer is None:
        raise ConfigError(f"predict writes no standard file for {type(dm).__name__} yet")
    if classes is not None:
        if writer is not generation:
            raise ConfigError(f"--classes is for conditional generators; {type(dm).__name__} takes none")
        writer = functools.partial(generation, classes=classes)
    load(model, ckpt)
    dm.setup("validate")
    model.eval().to("cuda" if torch.cuda.is_available() else "cpu")
    out.mkdir(parents=True, exist_ok=True)
    return out, writer(model, dm, dm.val_dataloader(), out)


def main(argv: list[str]) -> None:
    """``paperlab predict``: see the module docstring."""
    p = argparse.ArgumentParser(prog="paperlab predict", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--ckpt_path", type=Path, required=True, help="the checkpoint to predict with")
    p.add_argument("--out", type=Path, default=None, help="folder (default: <run>/predictions/ of the checkpoint)")
    p.add_argument("--classes", type=int, nargs="+", default=None,
                   help="conditional generators: the classes to sample (one grid row each; default all)")
    args, overrides = p.parse_known_args(argv)
    out, figures = run(args.config, args.ckpt_path, overrides, args.out, args.classes)
    for k, v in figures.items():
        print(f"  {k:12s} {v:.4f}" if isinstance(v, float) else f"  {k:12s} {v}")
    print(f"predictions: {out.resolve()}")
