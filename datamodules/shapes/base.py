"""What every ShapesWorld view shares: split/size/config handling, per-index streams, tensors."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from datamodules.shapes.rand import Stream
from datamodules.shapes.scene import SPLIT_IDS, Split, WorldConfig, make_rng


def to_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    """A PIL RGB image or (H, W, 3) uint8 array as a contiguous uint8 tensor (3, H, W)."""
    # One copy that both transposes and gives torch its own writable memory.
    return torch.from_numpy(np.asarray(image, np.uint8).transpose(2, 0, 1).copy())  # (3, H, W)


class ShapesView(Dataset):
    """Base of the views: a fixed-length, generated-on-the-fly, deterministic dataset.

    Sample ``index`` of ``split`` is a pure function of ``(config, split, index)``: it is drawn
    from ``make_rng(config.seed, split, index)``, so workers, epochs and machines agree, and the
    three splits are disjoint streams.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples (the dataset's length).
        config: World settings; ``None`` for the default medium world.
    """

    def __init__(self, split: Split = "train", size: int = 1000, config: WorldConfig | None = None):
        if split not in SPLIT_IDS:
            raise ValueError(f"split must be one of {list(SPLIT_IDS)}, got {split!r}")
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.split = split
        self.size = size
        self.config = config if config is not None else WorldConfig()

    def __len__(self) -> int:
        return self.size

    def stream(self, index: int) -> Stream:
        """The random stream of sample ``index`` (negative indices count from the end)."""
        if index < 0:
            index += self.size
        if not 0 <= index < self.size:
            raise IndexError(f"index {index} out of range for a view of size {self.size}")
        return Stream(make_rng(self.config.seed, self.split, index))

    @property
    def classes(self) -> list[str]:
        """Object class names; label k (or k + 1 where 0 is background) is ``classes[k]``."""
        return list(self.config.kinds)

    @property
    def num_classes(self) -> int:
        return len(self.config.kinds)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(split={self.split!r}, size={self.size}, config={self.config})"
        )
