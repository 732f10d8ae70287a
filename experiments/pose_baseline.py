"""``python -m experiments.pose_baseline --config FILE``: what a blind pose estimator scores.

"mean_pose": every joint at its mean position over the training crops (visible joints only),
whatever the image shows. Top-down crops are centred and scaled on the person's box, so this
is a lenient baseline: it is what the crop alone gives away. Same metric and normaliser as
``HourglassModule`` (``val/pck@0.1``; PCKh@0.5 too where the data has head sizes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lit_modules.metrics.pck import PCK, PCKh


def mean_pose(batches) -> torch.Tensor:
    """(K, 2) mean (x, y) of each joint over the visible ones in ``batches``."""
    total, count = None, None
    for _, keypoints, _, _ in batches:
        vis = (keypoints[..., 2] > 0).float()  # (B, K)
        s = (keypoints[..., :2] * vis[..., None]).sum(0)
        total = s if total is None else total + s
        count = vis.sum(0) if count is None else count + vis.sum(0)
    if total is None:
        raise ValueError("mean_pose: the training split is empty")
    return total / count.clamp_min(1.0)[:, None]


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="pose_baseline", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="config file(s), as for fit")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args, overrides = p.parse_known_args(argv)
    _, dm, _ = build(args.config, overrides)
    dm.setup("fit")
    pose = mean_pose(dm.train_dataloader())
    pck, pckh = PCK(0.1), PCKh(0.5)
    for _, keypoints, norm, head in dm.val_dataloader():
        pred = pose.expand(len(keypoints), -1, -1)
        pck.update(pred, keypoints, norm)
        pckh.update(pred, keypoints, head)
    out = {"mean_pose": {"val/pck@0.1": round(float(pck.compute()), 4)}}
    if dm.has_head_size:
        out["mean_pose"]["val/pckh@0.5"] = round(float(pckh.compute()), 4)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
