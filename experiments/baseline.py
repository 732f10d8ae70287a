"""``paperlab baseline --config FILE``: what a trivial model scores on a config's data.

Prints chance (the majority class of the validation split) and a linear model on raw
pixels (multinomial logistic regression, full-batch Adam with weight decay on the
datamodule's own normalised, un-augmented images). A demo's accuracy means something only
next to these: the gap is what the method adds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F


def _arrays(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*((x.flatten(1), y) for x, y in loader))
    return torch.cat(xs), torch.cat(ys)


def linear_probe(xtr: torch.Tensor, ytr: torch.Tensor, xva: torch.Tensor, yva: torch.Tensor,
                 num_classes: int, steps: int = 300, lr: float = 1e-2, weight_decay: float = 1e-3) -> float:
    """Validation accuracy of a linear classifier fitted to (xtr, ytr); features (N, D)."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        loss = F.cross_entropy(layer(xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (layer(xva).argmax(1) == yva).float().mean().item()


def main(argv: list[str]) -> None:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="paperlab baseline", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, overrides = p.parse_known_args(argv)
    _, dm, _ = build(args.config, ["--data.init_args.augment", "none", *overrides])
    dm.setup("fit")
    xtr, ytr = _arrays(dm.train_dataloader())  # augment=none: the datamodule's own normalisation
    xva, yva = _arrays(dm.val_dataloader())
    n = int(dm.num_classes)
    chance = torch.bincount(yva, minlength=n).max().item() / len(yva)
    linear = linear_probe(xtr, ytr, xva, yva, n)
    result = {"config": args.config, "num_classes": n, "train": len(ytr), "val": len(yva),
              "chance": chance, "linear_on_pixels": linear}
    print(f"chance (majority class): {chance:.3f}\nlinear model on pixels:  {linear:.3f}"
          f"   ({len(ytr)} train / {len(yva)} val, {n} classes)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
