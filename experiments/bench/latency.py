"""``paperlab bench --mode latency --config A.yaml --config B.yaml``: images per second at batch 1.

Each config's model (freshly built, eval mode, ``torch.inference_mode``) runs on the same
validation images of its own datamodule one at a time, pre- and post-processing (a detector's
resize and NMS) included, as a deployed model would. Warm-up passes are dropped and the median is
reported. The models are timed interleaved (image i on every model, then image i + 1), so a
busy machine slows them alike and their ratio stays meaningful. All configs must use one image
size: YOLO's claim is speed at equal input. In this mode each ``--config`` is one model.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from experiments.build import build


def fps(models: list[torch.nn.Module], inputs: list[Any], warmup: int = 5) -> list[float]:
    """Median inputs/s of each model at batch 1, timed interleaved on the same inputs."""
    times: list[list[float]] = [[] for _ in models]
    for m in models:
        m.eval()
    with torch.inference_mode():
        for i, x in enumerate(inputs):
            for m, ts in zip(models, times):
                t = time.perf_counter()
                m(x)
                if i >= warmup:
                    ts.append(time.perf_counter() - t)
    return [1.0 / statistics.median(ts) for ts in times]


def batch1_inputs(batches: Iterable, n: int) -> list[Any]:
    """The first ``n`` samples of a val loader as batch-1 forward inputs.

    A detector takes a list of images (its batch holds a list), any other model a tensor batch.
    """
    out: list[Any] = []
    for batch in batches:
        images = batch[0]
        out += [[im] for im in images] if isinstance(images, (list, tuple)) else list(images.split(1))
        if len(out) >= n:
            break
    return out[:n]


def image_shape(x: Any) -> tuple[int, ...]:
    """The shape of one image of a batch-1 input (a detector's ``[image]`` or a ``(1, ...)`` tensor)."""
    return tuple(x[0].shape)


def run(configs: list[str], images: int, json_path: Path | None = None) -> dict[str, float]:
    """Batch-1 images/s of each config's model on ``images`` of its own validation images."""
    models, inputs_of = [], []
    for cfg in configs:
        model, dm, _ = build([cfg], ["--data.init_args.val_size", str(images)])
        dm.setup("validate")
        inputs_of.append(batch1_inputs(dm.val_dataloader(), images))
        models.append(model)
    sizes = {image_shape(inputs[0]) for inputs in inputs_of}
    if len(sizes) > 1:
        raise SystemExit(f"paperlab bench: error: image sizes differ between configs: {sizes}")
    inputs = inputs_of[0]  # one image size: every model sees the first config's images
    out = dict(zip(configs, fps(models, inputs)))
    for cfg, v in out.items():
        print(f"{cfg}: {v:.1f} images/s at batch 1, {image_shape(inputs[0])[-1]} px, "
              f"{torch.get_num_threads()} threads")
    if json_path:
        json_path.write_text(json.dumps(out, indent=2))
    return out
