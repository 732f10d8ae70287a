"""What every part of ``paperlab explain`` shares: the models, the images, the chosen layer and the
numeric options, and a hook that reads a layer's output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import Tensor, nn

from experiments.explain.data import Images
from experiments.explain.loading import PixelModel, randomised

NO_MASKS = "skipped: these images have no object masks (only the ShapesWorld val split has)"


@dataclass
class Context:
    """What every part needs: the model (and a randomised and an independent one), the images,
    the conv layer, the output folder and the numeric options."""

    model: PixelModel
    images: Images
    layer_name: str
    layer: nn.Module
    out: Path
    eps: list[int]
    pgd_steps: int
    steps: int
    transfer: PixelModel | None = None
    transfer_note: str | None = None
    shown: int = 8
    seed: int = 0
    _random: PixelModel | None = field(default=None, repr=False)

    @property
    def random(self) -> PixelModel:
        if self._random is None:
            self._random = randomised(self.model, self.seed)
        return self._random

    def layer_of(self, model: PixelModel) -> nn.Module:
        return dict(model.net.named_modules())[self.layer_name]


def activation(model: PixelModel, layer: nn.Module) -> Callable[[Tensor], Tensor]:
    """``x -> layer's output`` (the rest of the forward pass runs, its result is dropped)."""

    def f(x: Tensor) -> Tensor:
        got: list[Tensor] = []
        h = layer.register_forward_hook(lambda m, i, o: got.append(o))
        try:
            model(x)
        finally:
            h.remove()
        return got[0]

    return f
