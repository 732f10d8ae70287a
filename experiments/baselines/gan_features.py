"""``paperlab baseline gan-features --out lit_modules/metrics/shapes_features.pt [--config GAN.yaml]``

Trains the small ShapesWorld classifier whose features the GAN family's FID/KID use when no
Inception weights are given (``val/fid_shapes``, ``val/kid_shapes``, ``val/mode_coverage``).
The world is read from a GAN demo config (default ``configs/wgan_gp/demo.yaml``), so the
classifier has seen the same distribution the generators learn; images are scaled to [-1, 1]
as the GAN datamodule serves them. The checkpoint (weights + sizes + world + val accuracy) is
255 kB and committed. The shipped one was trained with the defaults below: validation accuracy
0.995 on 1000 ShapesWorld val images after 8 epochs (117 s at 1 CPU thread).
With ``--mnist ROOT`` the same net is trained on MNIST digits instead (padded to 32 px, grey in
three channels, no flips), for the MNIST paper configs of CGAN and InfoGAN (``features: PATH``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from datamodules.shapes.scene import WorldConfig
from datamodules.shapes.store import render_columns
from datamodules.shapes.views import ShapesClassification
from datamodules.sources.mnist import MNISTSource
from lit_modules.metrics.features import ShapesFeatureNet


def world_of(config: Path) -> WorldConfig:
    """The ShapesWorld settings of a GAN config (``data.init_args.world``)."""
    w = yaml.safe_load(config.read_text())["data"]["init_args"]["world"]
    return WorldConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in w.items()})


def _unit(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1  # uint8 -> [-1, 1], as datamodules.generation serves them


@torch.no_grad()
def accuracy(net: ShapesFeatureNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    pred = torch.cat([net.logits(_unit(x)).argmax(1) for x in images.split(256)])
    return float((pred == labels).float().mean())


def rendered(view: ShapesClassification) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of a ShapesWorld view rendered once: (N, 3, S, S) uint8 images, (N,) labels."""
    images, labels = render_columns(view)
    return images, torch.tensor(labels, dtype=torch.long)


def degrade(x: torch.Tensor, p: float, max_sigma: float = 1.5, max_noise: float = 0.2) -> torch.Tensor:
    """With probability ``p`` per image: a Gaussian blur of sigma ~ U(0, max_sigma) px and noise of std ~ U(0, max_noise).

    Images in [-1, 1], (B, 3, S, S); the rest pass unchanged. A judge trained on these reads slightly soft or noisy
    shapes, as a generator draws them (``--degrade``: the robust-judge probe of docs/ANALYSES.md).
    """
    from torchvision.transforms import v2

    pick = torch.rand(len(x)) < p
    if not pick.any():
        return x
    blur = v2.GaussianBlur(7, sigma=(1e-3, max_sigma))  # draws its sigma at each call: one per image
    out = x.clone()
    for i in torch.where(pick)[0].tolist():
        std = float(torch.empty(()).uniform_(0, max_noise))  # torchvision's GaussianNoise has one fixed std
        out[i] = (blur(x[i]) + std * torch.randn_like(x[i])).clamp(-1, 1)
    return out


def mnist_arrays(root: Path, split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` MNIST images of a split, padded to 32 px, as (n, 3, 32, 32) uint8, and labels (n,)."""
    src = MNISTSource(root, split, pad=2)
    return src.images[:n].expand(-1, 3, -1, -1).contiguous(), src.targets[:n]


def main(argv: list[str] | None = None) -> dict:
    """Train the feature classifier and write its checkpoint (``paperlab baseline gan-features``)."""
    p = argparse.ArgumentParser(prog="paperlab baseline gan-features",
                                description=__doc__.split("\n\n")[1])
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write")
    p.add_argument("--config", type=Path, default=Path("configs/wgan_gp/demo.yaml"), help="GAN config with the world")
    p.add_argument("--train-size", type=int, default=6000)
    p.add_argument("--val-size", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--feature-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mnist", type=Path, default=None, metavar="ROOT",
                   help="train on MNIST's idx files under ROOT (train-size images of the train split) instead")
    p.add_argument("--degrade", type=float, default=0.0, metavar="P",
                   help="blur and noise this share of the training images (a judge of soft samples; default 0: none)")
    args = p.parse_args(argv)
    if not 0.0 <= args.degrade <= 1.0:
        p.error(f"--degrade {args.degrade}: a probability in [0, 1]")

    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    if args.mnist is not None:
        world, kinds, flips, data_name = None, [str(d) for d in range(10)], False, "MNIST test"
        train, val = mnist_arrays(args.mnist, "train", args.train_size), mnist_arrays(args.mnist, "test", args.val_size)
    else:
        world = world_of(args.config)
        kinds, flips, data_name = list(world.kinds), True, "ShapesWorld val"
        train = rendered(ShapesClassification("train", args.train_size, world))
        val = rendered(ShapesClassification("val", args.val_size, world))
    net = ShapesFeatureNet(len(kinds), train[0].shape[-1], args.width, args.feature_dim)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = args.epochs * (len(train[0]) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(train[0]))
        for idx in perm[: len(perm) // 64 * 64].view(-1, 64):
            x, y = _unit(train[0][idx]), train[1][idx]
            flip = (torch.rand(len(x)) < 0.5) & flips
            x = degrade(torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x), args.degrade)
            loss = F.cross_entropy(net.logits(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch}: loss {float(loss.detach()):.3f} val acc {accuracy(net, *val):.4f}", flush=True)
    acc = accuracy(net, *val)
    ckpt = {"state_dict": net.state_dict(), "num_classes": net.num_classes, "image_size": net.image_size,
            "width": args.width, "feature_dim": args.feature_dim, "kinds": kinds,
            "world": {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(world).items()}
            if world is not None else {},
            "val_acc": acc, "val_size": args.val_size, "train_size": args.train_size, "epochs": args.epochs,
            "degrade": args.degrade}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)
    print(f"val acc {acc:.4f} on {len(val[1])} {data_name} images; {time.perf_counter() - t0:.0f} s; "
          f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return ckpt
