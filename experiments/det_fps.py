"""``python -m experiments.det_fps --config A.yaml --config B.yaml``: detector frames per second at batch 1.

Each config's model (freshly built, eval mode, ``torch.inference_mode``) runs on the same
validation images of its own datamodule one at a time, pre- and post-processing (resize,
NMS) included, as a deployed detector would. Warm-up passes are dropped and the median is
reported. All configs must use one image size: YOLO's claim is speed at equal input.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch


def fps(model: torch.nn.Module, images: list[torch.Tensor], warmup: int = 5) -> float:
    model.eval()
    times = []
    with torch.inference_mode():
        for i, image in enumerate(images):
            t = time.perf_counter()
            model([image])
            if i >= warmup:
                times.append(time.perf_counter() - t)
    return 1.0 / statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, float]:
    from experiments.bench import build

    p = argparse.ArgumentParser(prog="det_fps", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="one config per detector to time")
    p.add_argument("--images", type=int, default=60, help="images timed per detector")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    out, sizes = {}, set()
    for cfg in args.config:
        model, dm, _ = build([cfg], ["--data.init_args.val_size", str(args.images)])
        dm.setup("validate")
        images = [dm._val[i][0] for i in range(args.images)]
        sizes.add(tuple(images[0].shape))
        out[cfg] = fps(model, images)
        print(f"{cfg}: {out[cfg]:.1f} images/s at batch 1, {images[0].shape[-1]} px, {torch.get_num_threads()} threads")
    if len(sizes) > 1:
        raise SystemExit(f"image sizes differ between configs: {sizes}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
