"""``python -m experiments.det_baseline --config FILE``: what a trivial detector scores on a config's data.

The trivial detectors know nothing of the image: for every class they predict one box with a
constant score, either covering the whole image ("full") or centred with the median size of the
evaluated objects ("centre", a slightly informed prior); masks fill the box. Its mAP is the
floor a detection demo's number must be read against. Same metric code as the modules
(``lit_modules.detection._map_metric``: COCOeval's numbers).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lit_modules.detection import DetectionModule, _map_metric


def trivial_predictions(image: torch.Tensor, num_classes: int, masks: bool,
                        size: tuple[float, float] | None = None) -> dict[str, torch.Tensor]:
    """One box per class: the whole image, or centred with ``size`` (w, h) when given."""
    h, w = image.shape[-2:]
    bw, bh = size or (w, h)
    box = torch.tensor([[(w - bw) / 2, (h - bh) / 2, (w + bw) / 2, (h + bh) / 2]])
    pred = {"boxes": box.repeat(num_classes, 1), "scores": torch.ones(num_classes),
            "labels": torch.arange(1, num_classes + 1)}
    if masks:
        m = torch.zeros(h, w, dtype=torch.bool)
        x0, y0, x1, y1 = box[0].round().long().tolist()
        m[y0:y1, x0:x1] = True
        pred["masks"] = m.expand(num_classes, h, w)
    return pred


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="det_baseline", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, overrides = p.parse_known_args(argv)
    model, dm, _ = build(args.config, overrides)
    dm.setup("validate")
    masks = bool(getattr(model, "masks", False))
    n = int(dm.num_classes)
    batches = list(dm.val_dataloader())
    wh = torch.cat([t["boxes"][:, 2:] - t["boxes"][:, :2] for _, ts in batches for t in ts])
    median = tuple(wh.median(0).values.tolist())
    keys = {"val/map": "map", "val/map50": "map_50"} | ({"val/segm_map": "segm_map", "val/segm_map50": "segm_map_50"}
                                                         if masks else {})
    out = {}
    for kind, size in (("full", None), ("centre", median)):
        metric = _map_metric(masks)
        for images, targets in batches:
            preds = [trivial_predictions(i, n, masks, size) for i in images]
            metric.update(DetectionModule._for_metric(preds), DetectionModule._for_metric(targets))
        r = metric.compute()
        out[kind] = {k: float(r[("bbox_" + v) if masks and not v.startswith("segm") else v]) for k, v in keys.items()}
        print(f"trivial detector '{kind}' (one {'full-image' if size is None else 'centred median-size'} box "
              "per class, constant score):")
        for k, v in out[kind].items():
            print(f"  {k:16s} {v:.4f}")
    if args.json:
        args.json.write_text(json.dumps({"config": args.config, **out}, indent=2))
    return out


if __name__ == "__main__":
    main()
