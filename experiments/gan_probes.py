"""Cheap diagnostics of the conditional GAN demo's failure (docs/ANALYSES.md, "Conditional GAN ..."): short
plain-PyTorch loops (no Lightning; only ``ckpt`` reads a trained run) on the CGAN demo's world, printing what limits cond_acc.

    python -m experiments.gan_probes --mode judge    # the kind classifier on blurred / noisy / half-res real images
    python -m experiments.gan_probes --mode recon    # can the generator draw the kinds at all? A conditional
                                                     # autoencoder G(E(x), y) -> x under L1; the classifier
                                                     # reads its reconstructions
    python -m experiments.gan_probes --mode render   # the cleanest capacity test: G(scene parameters, y) -> x
                                                     # under L1, given the object's colour, the background's,
                                                     # centre, size and angle (cos/sin of k·angle, k = 1..5)
    python -m experiments.gan_probes --mode gan      # a CGAN recipe from the flags (default: SNGAN-style);
                                                     # cond_acc, per-class accuracy and |dG/dy| vs |dG/dz|
    python -m experiments.gan_probes --mode ckpt --ckpt RUN/checkpoints/last.ckpt [--judge F]
                                                     # a trained CGAN's samples, 100 z per asked kind, judged:
                                                     # the asked -> judged confusion and cond_acc

``--judge F`` replaces the shipped classifier with another from ``paperlab baseline gan-features --out F`` (e.g.
one trained with ``--degrade 0.5`` on blurred and noisy renders), in every mode.

Every probe renders the demo's training set once (configs/cgan/demo.yaml, 3968 images after drop_last) and
judges with the shipped ShapesWorld classifier (the val/cond_acc judge) unless ``--judge`` names another. Each probe
takes minutes of CPU (``ckpt``: seconds).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from datamodules.generation import GenerationDataModule
from lit_modules.losses.gan import d_loss_bce, d_loss_hinge, g_loss_hinge, g_loss_nonsaturating
from lit_modules.metrics.features import SHAPES_FEATURES, load_shapes_features
from lit_modules.nets.gan import Discriminator, Generator

K = 6  # the demo's kinds


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", default="gan", choices=["gan", "recon", "render", "judge", "ckpt"])
    ap.add_argument("--judge", default=None, help="feature classifier file (default: the shipped one)")
    ap.add_argument("--ckpt", default=None, help="ckpt: a CGAN checkpoint (paperlab fit --config configs/cgan/...)")
    ap.add_argument("--config", default="configs/cgan/demo.yaml", help="whose data.init_args give the world")
    ap.add_argument("--steps", type=int, default=1500, help="generator steps")
    ap.add_argument("--every", type=int, default=250, help="evaluate every this many steps")
    ap.add_argument("--gcond", default="batchnorm", choices=["concat", "batchnorm"], help="generator conditioning")
    ap.add_argument("--dcond", default="projection", choices=["projection", "concat"], help="discriminator conditioning")
    ap.add_argument("--norm", default="spectral", choices=["batch", "spectral", "none", "layer"])
    ap.add_argument("--loss", default="hinge", choices=["hinge", "bce"])
    ap.add_argument("--ndis", type=int, default=1, help="discriminator steps per generator step")
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--glr", type=float, default=None, help="generator lr (default --lr)")
    ap.add_argument("--b1", type=float, default=0.0)
    ap.add_argument("--b2", type=float, default=0.9)
    ap.add_argument("--gw", type=int, default=32, help="generator width")
    ap.add_argument("--dw", type=int, default=32, help="discriminator (recon: encoder) width")
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--up", default="transposed", choices=["transposed", "nearest"], help="generator upsampling")
    ap.add_argument("--coord", action="store_true",
                    help="CoordConv (Liu et al. 2018): x, y coordinate channels before each upsampling conv")
    ap.add_argument("--rlr", type=float, default=1e-3, help="recon: Adam lr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train_size", type=int, default=None, help="override the config's (tests)")
    ap.add_argument("--save", default=None, help="gan/recon: write a sample grid PNG here (rows = asked kind)")
    return ap


class AddCoords(nn.Module):
    """(B, C, H, W) -> (B, C + 2, H, W): y and x in [-1, 1] as two more channels (CoordConv, Liu et al. 2018)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, _, hh, ww = h.shape
        ys = torch.linspace(-1, 1, hh, device=h.device).view(1, 1, hh, 1).expand(b, 1, hh, ww)
        xs = torch.linspace(-1, 1, ww, device=h.device).view(1, 1, 1, ww).expand(b, 1, hh, ww)
        return torch.cat([h, ys, xs], 1)


def generator(a: argparse.Namespace, latent: int) -> Generator:
    """The demo's generator (house nets); ``--coord`` gives every stride-2 transposed conv two coordinate channels."""
    g = Generator(latent, 32, a.gw, 3, K, 16, a.gcond, a.up)
    if a.coord:
        for i, layer in enumerate(g.net):
            if isinstance(layer, nn.ConvTranspose2d) and layer.stride == (2, 2):
                conv = nn.ConvTranspose2d(layer.in_channels + 2, layer.out_channels, 4, 2, 1, bias=layer.bias is not None)
                nn.init.normal_(conv.weight, 0.0, 0.02)
                if conv.bias is not None:
                    nn.init.zeros_(conv.bias)
                g.net[i] = nn.Sequential(AddCoords(), conv)
    return g


def _data(a: argparse.Namespace, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    with open(a.config) as f:
        cfg = yaml.safe_load(f)["data"]["init_args"]
    if a.train_size:
        cfg = {**cfg, "train_size": a.train_size, "val_size": a.train_size}
    dm = GenerationDataModule(**cfg)
    dm.setup("fit")
    loader = dm.train_dataloader() if split == "train" else dm.val_dataloader()
    x, y = map(torch.cat, zip(*list(loader), strict=True))
    print(split, tuple(x.shape), y.bincount().tolist(), flush=True)
    return x, y


@torch.no_grad()
def judge(a: argparse.Namespace) -> None:
    """The classifier's accuracy on real val images, clean and degraded."""
    from torchvision.transforms.v2.functional import gaussian_blur

    x, y = _data(a, "val")
    clf = _judge(a)

    def acc(images: torch.Tensor) -> float:
        return (clf.logits(images).argmax(1) == y).float().mean().item()

    def down_up(r: int) -> torch.Tensor:
        return F.interpolate(F.interpolate(x, size=r, mode="bilinear", antialias=True), size=32, mode="bilinear")

    print(f"real {acc(x):.3f}")
    for s in (0.5, 1.0, 1.5, 2.0):
        print(f"blur sigma {s} {acc(gaussian_blur(x, [7, 7], [s, s])):.3f}")
    for r in (16, 8):
        print(f"down-up {r} px {acc(down_up(r)):.3f}")
    for n in (0.1, 0.2, 0.4):
        print(f"gaussian noise std {n} {acc((x + n * torch.randn_like(x)).clamp(-1, 1)):.3f}")


def _grid(images: torch.Tensor, path: str) -> None:
    from torchvision.utils import save_image

    save_image(images * 0.5 + 0.5, path, nrow=8)


def recon(a: argparse.Namespace, x: torch.Tensor, y: torch.Tensor, g: Generator, clf: nn.Module) -> None:
    """Conditional autoencoder: an encoder (the DCGAN discriminator's convs -> latent) and G(E(x), y) -> x, L1."""
    d = Discriminator(32, a.dw, 3, "batch", 0)
    enc = nn.Sequential(d.features, nn.Flatten(), nn.Linear(d.num_features * 16, a.latent))
    opt = torch.optim.Adam(list(g.parameters()) + list(enc.parameters()), a.rlr, betas=(0.5, 0.999))
    t0 = time.time()
    for step in range(1, a.steps + 1):
        i = torch.randint(len(x), (a.bs,))
        loss = (g(enc(x[i]), y[i]) - x[i]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % a.every == 0:
            with torch.no_grad():
                g.eval(), enc.eval()
                xv, yv = x[:600], y[:600]  # training images: this asks whether G can draw them, not generalise
                acc = (clf.logits(g(enc(xv), yv)).argmax(1) == yv).float().mean().item()
                swapped = (clf.logits(g(enc(xv), (yv + 1) % K)).argmax(1) == (yv + 1) % K).float().mean().item()
                g.train(), enc.train()
            print(f"step {step} t={time.time() - t0:.0f}s L1 {loss.item():.3f} recon kind-acc {acc:.3f} "
                  f"(label swapped: reads asked kind {swapped:.3f})", flush=True)
    if a.save:
        with torch.no_grad():
            g.eval(), enc.eval()
            _grid(torch.stack([x[:24], g(enc(x[:24]), y[:24])], 1).flatten(0, 1), a.save)  # real, recon pairs


def scene_parameters(a: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images (N, 3, S, S) in [-1, 1], kinds (N,), parameters (N, 16)) of the config's training scenes, unflipped."""
    import math

    from datamodules.shapes.views import ShapesClassification

    with open(a.config) as f:
        cfg = yaml.safe_load(f)["data"]["init_args"]
    n = a.train_size or cfg["train_size"]
    dm = GenerationDataModule(**{**cfg, "train_size": n})
    view = ShapesClassification("train", n, dm.world)
    images, kinds, params = [], [], []
    for i in range(n):
        image, kind = view[i]
        obj, bg = view.scene(i).objects[0], view.scene(i).background.colors[0]
        angle = [f(k * obj.angle) for k in range(1, 6) for f in (math.cos, math.sin)]
        params.append([c / 127.5 - 1 for c in (*obj.color, *bg)] + [obj.cx / 16 - 1, obj.cy / 16 - 1, obj.size / 32, *angle])
        images.append(image)
        kinds.append(kind)
    x = torch.stack([torch.as_tensor(im) for im in images]).float() / 127.5 - 1
    print("train", tuple(x.shape), flush=True)
    return x, torch.tensor(kinds), torch.tensor(params, dtype=torch.float32)


def render(a: argparse.Namespace, clf: nn.Module) -> None:
    """G(scene parameters, kind) -> image under L1: can this generator draw the outlines, given everything?"""
    x, y, p = scene_parameters(a)
    g = generator(a, p.shape[1])
    opt = torch.optim.Adam(g.parameters(), a.rlr, betas=(0.5, 0.999))
    t0 = time.time()
    for step in range(1, a.steps + 1):
        i = torch.randint(len(x), (a.bs,))
        loss = (g(p[i], y[i]) - x[i]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % a.every == 0:
            with torch.no_grad():
                g.eval()
                acc = (clf.logits(g(p[:600], y[:600])).argmax(1) == y[:600]).float().mean().item()
                g.train()
            print(f"step {step} t={time.time() - t0:.0f}s L1 {loss.item():.3f} render kind-acc {acc:.3f}", flush=True)
    if a.save:
        with torch.no_grad():
            g.eval()
            _grid(torch.stack([x[:24], g(p[:24], y[:24])], 1).flatten(0, 1), a.save)  # real, rendered pairs


def gan(a: argparse.Namespace, x: torch.Tensor, y: torch.Tensor, g: Generator, clf: nn.Module) -> None:
    d = Discriminator(32, a.dw, 3, a.norm, K, a.dcond)
    opt_g = torch.optim.Adam(g.parameters(), a.glr or a.lr, betas=(a.b1, a.b2))
    opt_d = torch.optim.Adam(d.parameters(), a.lr, betas=(a.b1, a.b2))
    d_loss_fn, g_loss_fn = (d_loss_hinge, g_loss_hinge) if a.loss == "hinge" else (d_loss_bce, g_loss_nonsaturating)
    rng = torch.Generator().manual_seed(99)
    zf, yf = torch.randn(600, a.latent, generator=rng), torch.arange(600) % K  # 100 fixed z per asked kind

    @torch.no_grad()
    def evaluate(step: int, t0: float) -> None:
        g.eval()
        s = g(zf, yf)
        g.train()
        pred = clf.logits(s).argmax(1)
        g(zf, (yf + 1) % K)  # a train-mode pass (updates BN running stats); kept so the logged figures reproduce
        g.eval()
        s_y, s_z = g(zf, (yf + 1) % K), g(torch.randn(600, a.latent, generator=rng), yf)  # label / z changed
        g.train()
        per = [round((pred[yf == k] == k).float().mean().item(), 2) for k in range(K)]
        print(f"step {step} t={time.time() - t0:.0f}s cond_acc {(pred == yf).float().mean().item():.3f} per-class {per} "
              f"pred-hist {pred.bincount(minlength=K).tolist()} |dG/dy| {(s_y - s).abs().mean().item():.3f} "
              f"|dG/dz| {(s_z - s).abs().mean().item():.3f}", flush=True)

    t0 = time.time()
    for step in range(1, a.steps + 1):
        for _ in range(a.ndis):
            i = torch.randint(len(x), (a.bs,))
            with torch.no_grad():
                fake = g(torch.randn(a.bs, a.latent), y[i])
            ld = d_loss_fn(d(x[i], y[i]), d(fake, y[i]))
            opt_d.zero_grad()
            ld.backward()
            opt_d.step()
        yg = y[torch.randint(len(x), (a.bs,))]
        lg = g_loss_fn(d(g(torch.randn(a.bs, a.latent), yg), yg))
        opt_g.zero_grad()
        lg.backward()
        opt_g.step()
        if step % a.every == 0:
            print(f"  d_loss {ld.item():.3f} g_loss {lg.item():.3f}", flush=True)
            evaluate(step, t0)
    if a.save:
        g.eval()
        with torch.no_grad():
            _grid(g(torch.randn(48, a.latent, generator=torch.Generator().manual_seed(7)), torch.arange(48) // 8), a.save)


def _judge(a: argparse.Namespace) -> nn.Module:
    return load_shapes_features(a.judge or SHAPES_FEATURES)


@torch.no_grad()
def judge_checkpoint(a: argparse.Namespace, clf: nn.Module, per_kind: int = 100) -> float:
    """A trained CGAN's samples, ``per_kind`` z for each asked kind (z seeded by ``--seed``): confusion and cond_acc."""
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    from contracts.errors import ConfigError
    from lit_modules.cgan import CGAN

    if not a.ckpt:
        raise ConfigError("--mode ckpt needs --ckpt RUN/checkpoints/last.ckpt (a CGAN run)")
    m = CGAN.load_from_checkpoint(a.ckpt, map_location="cpu")
    k = m.hparams.num_classes
    y = torch.arange(k).repeat_interleave(per_kind)
    pred = clf.logits(m.generate(y, torch.Generator().manual_seed(a.seed))).argmax(1)
    confusion = multiclass_confusion_matrix(pred, y, num_classes=k)  # rows: asked, columns: judged
    kinds = getattr(clf, "kinds", ()) or tuple(map(str, range(k)))
    print("asked \\ judged: " + " ".join(f"{n:>8}" for n in kinds))
    for name, row in zip(kinds, confusion.tolist(), strict=True):
        print(f"{name:>15}: " + " ".join(f"{c:>8}" for c in row))
    acc = float((pred == y).float().mean())
    print(f"cond_acc {acc:.3f} over {len(y)} samples ({a.judge or 'the shipped judge'})")
    return acc


def main(argv: list[str] | None = None) -> None:
    a = _parser().parse_args(argv)
    print(vars(a), flush=True)
    torch.manual_seed(a.seed)
    if a.mode == "judge":
        return judge(a)
    if a.mode == "ckpt":
        judge_checkpoint(a, _judge(a))
        return None
    if a.mode == "render":
        return render(a, _judge(a))
    x, y = _data(a)
    clf = _judge(a)
    g = generator(a, a.latent)
    (recon if a.mode == "recon" else gan)(a, x, y, g, clf)


if __name__ == "__main__":
    main()
