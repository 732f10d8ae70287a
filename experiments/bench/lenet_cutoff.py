"""LeNet-5 demo: how much of the object do the paper's distortions push out of the 32 px frame?

``python -m experiments.bench.lenet_cutoff [--images 1000]`` takes the objects' masks of the demo's validation
scenes (``configs/lenet/demo.yaml``'s world: objects 45-85 % of the frame), warps each by one draw of the demo's
``AffineDistort`` (zero outside the frame), and compares what stays inside with the area the same warp gives
an unbounded object (the mask's area over the warp's determinant). Prints the share of objects that touch the
frame before any warp and the quantiles of the share kept. The paper's ranges were for 28 px digits in a
32 px field; this checks that on larger shapes they do not cut the shape off. A few seconds on one thread.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from datamodules.classification import ClassificationDataModule
from datamodules.distortions import AffineDistort
from experiments.bench.lenet_loader import WORLD


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.bench.lenet_cutoff", description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=1000)
    args = p.parse_args(argv)
    dm = ClassificationDataModule(image_size=32, grayscale=True, augment="lenet", world=WORLD, val_size=args.images)
    masks = dm.object_masks(list(range(args.images))).float().unsqueeze(1)  # (N, 1, 32, 32)
    torch.manual_seed(0)
    mat = AffineDistort().matrices(len(masks))  # output -> input maps
    grid = F.affine_grid(mat, list(masks.shape), align_corners=False)
    warped = F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    unbounded = masks.sum((1, 2, 3)) / torch.linalg.det(mat[:, :, :2])  # area scales by the forward map's det
    kept = warped.sum((1, 2, 3)) / unbounded
    m = masks[:, 0]
    touching = (m[:, 0].sum(1) + m[:, -1].sum(1) + m[:, :, 0].sum(1) + m[:, :, -1].sum(1) > 0).float().mean()
    q = kept.quantile(torch.tensor([0.01, 0.05, 0.5]))
    print(f"objects touching the frame before any warp: {touching:.1%}")
    print(f"share of the object kept after one warp: 1 % quantile {q[0]:.3f}, 5 % {q[1]:.3f}, median {q[2]:.3f}; "
          f"objects losing over 5 %: {(kept < 0.95).float().mean():.1%}")


if __name__ == "__main__":
    main()
