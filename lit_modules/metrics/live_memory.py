"""Peak memory of the tensors a forward pass holds at once, measured on any device (CPU included).

CPU has no ``torch.cuda.max_memory_allocated``; process RSS is dominated by the interpreter and
the allocator's caching. This counts what the model keeps: every tensor an ATen op returns is seen
by a ``TorchDispatchMode``, its storage counted once (views and in-place results share it) until
the last Python tensor on that storage is freed. The peak of that sum is the activation memory a
forward needs at its fullest (weights not included: they exist before the pass), e.g. the
feature maps U-Net keeps for its skips against the pooling indices SegNet keeps. Buffers an op
allocates and frees inside itself (a conv's workspace) are not seen.
"""

from __future__ import annotations

import weakref

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of live op outputs (per storage) while active; ``peak`` is the largest sum seen."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[int, list[int]] = {}  # storage address -> [tensors alive on it, bytes]

    def _release(self, key: int) -> None:
        entry = self._refs[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.live -= entry[1]
            del self._refs[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor) or t.device.type == "meta":
                continue
            storage = t.untyped_storage()
            key = storage.data_ptr()
            if key not in self._refs:
                self._refs[key] = [0, storage.nbytes()]
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
            self._refs[key][0] += 1
            weakref.finalize(t, self._release, key)
        return out


def forward_peak_bytes(model: nn.Module, x: torch.Tensor) -> int:
    """Peak bytes of live tensors during one inference forward of ``model`` on ``x`` (input not counted)."""
    model.eval()
    with torch.inference_mode():
        model(x)  # warm-up: lazy initialisation and kernel choice allocate nothing then
        with LiveTensorBytes() as mode:
            model(x)
    return mode.peak
