"""``python -m experiments.det_fps --config A.yaml --config B.yaml``: detector frames per second at batch 1.

Each config's model (freshly built, eval mode, ``torch.inference_mode``) runs on the same
validation images of its own datamodule one at a time, pre- and post-processing (resize,
NMS) included, as a deployed detector would. Warm-up passes are dropped and the median is
reported. The detectors are timed interleaved (image i on every model, then image i + 1), so a
busy machine slows them alike and their ratio stays meaningful. All configs must use one image
size: YOLO's claim is speed at equal input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch


def fps(models: list[torch.nn.Module], images: list[torch.Tensor], warmup: int = 5) -> list[float]:
    """Median images/s of each model at batch 1, timed interleaved on the same images."""
    times: list[list[float]] = [[] for _ in models]
    for m in models:
        m.eval()
    with torch.inference_mode():
        for i, image in enumerate(images):
            for m, ts in zip(models, times):
                t = time.perf_counter()
                m([image])
                if i >= warmup:
                    ts.append(time.perf_counter() - t)
    return [1.0 / statistics.median(ts) for ts in times]


def main(argv: list[str] | None = None) -> dict[str, float]:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="det_fps", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="one config per detector to time")
    p.add_argument("--images", type=int, default=60, help="images timed per detector")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models, sizes, images = [], set(), []
    for cfg in args.config:
        model, dm, _ = build([cfg], ["--data.init_args.val_size", str(args.images)])
        dm.setup("validate")
        images = [dm._val[i][0] for i in range(args.images)]
        sizes.add(tuple(images[0].shape))
        models.append(model)
    if len(sizes) > 1:
        raise SystemExit(f"image sizes differ between configs: {sizes}")
    out = dict(zip(args.config, fps(models, images)))
    for cfg, v in out.items():
        print(f"{cfg}: {v:.1f} images/s at batch 1, {images[0].shape[-1]} px, {torch.get_num_threads()} threads")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
