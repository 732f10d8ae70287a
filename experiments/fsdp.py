"""``configs/trainer/fsdp.yaml``'s strategy: Lightning's ``FSDPStrategy`` with its layer classes given
by import path, so a YAML config can name them (jsonargparse cannot turn a string into the class
set ``auto_wrap_policy`` takes).

Each listed layer class (default: timm's ViT ``Block``, what ``lit_modules.nets.vit`` builds) becomes
one FSDP unit, sharded over the processes (``FULL_SHARD``: parameters, gradients and optimiser state),
and, with ``checkpoint_activations``, recomputes its activations in backward instead of keeping them.
``state_dict_type="sharded"`` writes a checkpoint folder with one shard per process, which the same
strategy loads back (``--ckpt_path`` the folder); ``"full"`` gathers a single file on rank 0.

BatchNorm running statistics (the ViT demos' conv stem) are buffers, which FSDP neither shards nor
keeps equal: each rank would update its own from its own batches, validate with them, and the
checkpoint would keep rank 0's, so a reloaded model scored differently from the one validated during
the fit. As DDP does (``broadcast_buffers``), rank 0's statistics go to every rank before each
training step and each validation or test.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

import torch.distributed as dist
from lightning.pytorch.strategies import FSDPStrategy
from torch import nn

VIT_BLOCK = "timm.models.vision_transformer.Block"


def sharded(trainer: Any) -> bool:
    """Parameters sharded over processes (FSDP): calling the module outside the strategy's forward, on
    one rank, sees flat shards or waits for the others, so W&B media, FLOPs and latency are left out."""
    return isinstance(getattr(trainer, "strategy", None), FSDPStrategy)


def import_class(path: str) -> type[nn.Module]:
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"{path} is not a torch.nn.Module class")
    return cls


class PaperFSDP(FSDPStrategy):
    """FSDP over the listed layer classes, with activation checkpointing and sharded checkpoints.

    Args:
        layers: import paths of the module classes to wrap (and checkpoint) one by one.
        checkpoint_activations: recompute those layers' activations in backward.
        sharding_strategy: "FULL_SHARD" (ZeRO-3), "SHARD_GRAD_OP" (ZeRO-2), "HYBRID_SHARD" (shard
            inside a node, replicate across nodes), "NO_SHARD".
        state_dict_type: "sharded" (a folder of per-rank shards) or "full" (one file).
    """

    def __init__(self, layers: list[str] | None = None, checkpoint_activations: bool = True,
                 sharding_strategy: Literal["FULL_SHARD", "SHARD_GRAD_OP", "HYBRID_SHARD", "NO_SHARD"] = "FULL_SHARD",
                 state_dict_type: Literal["sharded", "full"] = "sharded", **kwargs: Any) -> None:
        classes = {import_class(p) for p in (layers or [VIT_BLOCK])}
        super().__init__(auto_wrap_policy=classes,
                         activation_checkpointing_policy=classes if checkpoint_activations else None,
                         sharding_strategy=sharding_strategy, state_dict_type=state_dict_type, **kwargs)

    def _setup_model(self, model: nn.Module) -> nn.Module:
        """On CPU processes (gloo), hand FSDP the CPU as its device: Lightning passes no device there
        and FSDP then refuses to run without an accelerator. GPUs take Lightning's path unchanged."""
        if self.root_device.type == "cpu":
            import torch
            from torch.distributed.fsdp import FullyShardedDataParallel

            if not any(isinstance(m, FullyShardedDataParallel) for m in model.modules()):
                model = FullyShardedDataParallel(module=model, cpu_offload=self.cpu_offload,
                                                 mixed_precision=self.mixed_precision_config,
                                                 sharding_strategy=self.sharding_strategy,
                                                 device_id=torch.device("cpu"), **self.kwargs)
                self.kwargs.pop("auto_wrap_policy", None)  # applied: Lightning would warn it is ignored
        return super()._setup_model(model)

    def _norm_statistics_from_rank_zero(self) -> None:
        if self.world_size < 2 or self.model is None or not dist.is_initialized():
            return
        for module in self.model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                for buffer in module.buffers(recurse=False):
                    dist.broadcast(buffer, src=0)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        self._norm_statistics_from_rank_zero()

    def on_validation_start(self) -> None:
        super().on_validation_start()
        self._norm_statistics_from_rank_zero()

    def on_test_start(self) -> None:
        super().on_test_start()
        self._norm_statistics_from_rank_zero()
