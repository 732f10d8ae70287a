"""A blind pose estimator: what it scores on a config's data.

"mean_pose": every joint at its mean position over the training crops (visible joints only),
whatever the image shows. Top-down crops are centred and scaled on the person's box, so this
is a lenient baseline: it is what the crop alone gives away. Same metric and normaliser as
``HourglassModule`` (``val/pck@0.1``; PCKh@0.5 too where the data has head sizes).
"""

from __future__ import annotations

from collections.abc import Iterable

import lightning as L
import torch

from lit_modules.metrics.pck import PCK, PCKh

OVERRIDES: list[str] = []


def mean_pose(batches: Iterable) -> torch.Tensor:
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


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """PCK (and PCKh where the data has head sizes) of the mean pose of the training crops."""
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
    return out
