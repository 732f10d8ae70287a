"""``python -m experiments.bench.fast_rcnn_head``: Fast R-CNN's test pass at batch 1 split into its parts.

The demo config's (``--config``) model with ``--ckpt``'s weights on its first ``--images`` validation images and
their cached proposals, one image after the other (no other model between them), in ``torch.inference_mode``:
resize + normalise + conv, RoIPool, fc6/fc7, the class and box layers, post-processing (softmax, class-specific
decoding, per-class NMS) and rescaling to the image. Medians of the second of two passes, in ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from experiments.build import build, load_weights

PARTS = ("prepare + conv", "RoIPool", "fc6/fc7", "class + box layers", "post-processing", "rescale")


def split(config: str, ckpt: str | None, images: int) -> dict[str, float]:
    model, dm, _ = build([config], [])
    if ckpt:
        load_weights(model, ckpt)
    model.eval()
    dm.setup("validate")
    net, heads, clock = model.net, model.net.roi_heads, time.perf_counter
    times: dict[str, list[float]] = {k: [] for k in PARTS}
    with torch.inference_mode():
        for rep in range(2):
            for i in range(images):
                image, target = dm._val[i]
                t = [clock()]
                batch, props, _, sizes = net.prepare([image], [target["proposals"].as_subclass(torch.Tensor)])
                feats = net.features(batch)
                t.append(clock())
                x = heads.box_roi_pool(feats, props, batch.image_sizes)
                t.append(clock())
                x = heads.box_head(x)
                t.append(clock())
                logits, deltas = heads.box_predictor(x)
                t.append(clock())
                boxes, scores, labels = heads.postprocess_detections(logits, deltas, props, batch.image_sizes)
                t.append(clock())
                net.transform.postprocess([{"boxes": boxes[0], "scores": scores[0], "labels": labels[0]}],
                                          batch.image_sizes, sizes)
                t.append(clock())
                if rep:
                    for k, a, b in zip(PARTS, t, t[1:]):
                        times[k].append(b - a)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="configs/fast_rcnn/demo.yaml")
    p.add_argument("--ckpt", default=None)
    p.add_argument("--images", type=int, default=60)
    args = p.parse_args(argv)
    ms = split(args.config, args.ckpt, args.images)
    print(" | ".join(f"{k} {v:.2f} ms" for k, v in ms.items()) + f" | total {sum(ms.values()):.2f} ms")


if __name__ == "__main__":
    main()
