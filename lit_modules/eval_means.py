"""Exact evaluation means under DDP: a per-sample average as a torchmetrics ``MeanMetric``.

``self.log(name, batch_mean, sync_dist=True)`` averages each rank's mean over its own batches and
then averages the ranks' means: with shards of unequal size (a split that does not divide by the
world size) that weights the samples of the smaller shard more. A ``MeanMetric`` keeps the sum and
the count, which the ranks add up, so the logged value is the mean over the split whatever the
world size. It logs through the LightningModule, so it lives beside the modules, not in the
Lightning-free ``metrics/`` folder.
"""

from __future__ import annotations

import lightning as L
from torch import Tensor, nn
from torchmetrics import MeanMetric

STAGES = ("val", "test")


def eval_means(*names: str) -> nn.ModuleDict:
    """One ``MeanMetric`` per (stage, name), keyed ``"<stage>_<name>"`` (their states are not saved)."""
    return nn.ModuleDict({f"{stage}_{name}": MeanMetric() for stage in STAGES for name in names})


def log_mean(module: L.LightningModule, means: nn.ModuleDict, stage: str, name: str, value: Tensor,
             count: int, **log_kwargs) -> None:
    """Add a batch's mean ``value`` over ``count`` samples and log ``<stage>/<name>`` (the epoch mean)."""
    metric = means[f"{stage}_{name}"]
    metric.update(value.detach().float(), weight=count)
    module.log(f"{stage}/{name}", metric, batch_size=count, **log_kwargs)
