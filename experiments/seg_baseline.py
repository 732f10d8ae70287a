"""``python -m experiments.seg_baseline --config FILE``: what trivial segmenters score on a config's data.

"background": every pixel the majority class 0. "pixel_linear": a linear classifier on each
pixel's own normalised RGB (a 1x1 conv, trained with Adam on the training split): it sees colour
but no shape, so on ShapesWorld, where colours are drawn independently of the class, it can find
objects but not tell their kinds apart. Same metrics as ``UNetModule`` (torchmetrics, macro).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from lit_modules.unet import _metrics


def _score(predict, batches, num_classes: int) -> dict[str, float]:
    m = _metrics(num_classes, "val/")
    for images, masks in batches:
        m.update(predict(images), masks)
    return {k: round(float(v), 4) for k, v in m.compute().items()}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="seg_baseline", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--steps", type=int, default=300, help="training steps of the pixel-linear model")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, overrides = p.parse_known_args(argv)
    torch.manual_seed(0)
    _, dm, _ = build(args.config, overrides)
    dm.setup("fit")
    n = int(dm.num_classes)
    val = list(dm.val_dataloader())
    out = {"background": _score(lambda x: torch.zeros(x.shape[0], *x.shape[2:], dtype=torch.long), val, n)}
    linear = torch.nn.Conv2d(3, n, 1)
    opt = torch.optim.Adam(linear.parameters(), 1e-2)
    step = 0
    while step < args.steps:
        for images, masks in dm.train_dataloader():
            loss = F.cross_entropy(linear(images), masks, ignore_index=255)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step >= args.steps:
                break
    with torch.no_grad():
        out["pixel_linear"] = _score(lambda x: linear(x).argmax(1), val, n)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
