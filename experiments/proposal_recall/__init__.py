"""``paperlab proposal-recall``: recall of selective search against an RPN, by number of proposals (Ren 2015, Fig. 4).

Reads a proposal config's validation split (``datamodules.proposals``: the cached selective-search
boxes, in OpenCV's order) and a trained Faster R-CNN checkpoint (its RPN's boxes, by objectness),
and writes a markdown table and a plot of the fraction of ground-truth boxes that some proposal
among the first N covers at IoU 0.5 and 0.7.

    paperlab proposal-recall --config configs/rcnn/demo.yaml --ckpt runs/faster_rcnn-demo/<id>/checkpoints/last.ckpt \
        --out docs/figures/proposal-recall
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml
from torchvision.ops import box_iou

from contracts.errors import ConfigError

COUNTS = (10, 20, 50, 100, 200, 300, 500, 1000, 2000)
IOUS = (0.5, 0.7)


def recall_curve(proposals: list[torch.Tensor], gts: list[torch.Tensor], counts=COUNTS, ious=IOUS) -> dict:
    """``{iou: [recall at each count]}``: share of ground-truth boxes with a proposal among the first N at >= iou."""
    best = {n: [] for n in counts}
    for p, g in zip(proposals, gts):
        for n in counts:
            top = p[:n]
            best[n].append(box_iou(g, top).max(1).values if len(top) and len(g) else g.new_zeros(len(g)))
    return {t: [float((torch.cat(best[n]) >= t).float().mean()) for n in counts] for t in ious}


@torch.no_grad()
def rpn_proposals(ckpt: str, images: list[torch.Tensor], top: int) -> list[torch.Tensor]:
    """The checkpoint's RPN boxes (best objectness first, after its NMS), up to ``top`` an image, in image pixels."""
    from lit_modules.faster_rcnn import FasterRCNNModule

    if not Path(ckpt).is_file():
        raise ConfigError(f"--ckpt {ckpt!r} does not exist (a Faster R-CNN checkpoint, e.g. from configs/faster_rcnn/demo.yaml)")
    net = FasterRCNNModule.load_from_checkpoint(ckpt, map_location="cpu").net.eval()
    net.rpn._pre_nms_top_n["testing"] = max(top, net.rpn._pre_nms_top_n["testing"])
    net.rpn._post_nms_top_n["testing"] = top
    out = []
    for image in images:
        batch, _ = net.transform([image])
        feats = net.backbone(batch.tensors)
        feats = {"0": feats} if isinstance(feats, torch.Tensor) else feats
        boxes = net.rpn(batch, feats)[0][0]  # (P, 4), best objectness first
        (h, w), (nh, nw) = image.shape[-2:], batch.image_sizes[0]
        out.append(boxes * boxes.new_tensor([w / nw, h / nh, w / nw, h / nh]))
    return out


def misses(proposals: list[torch.Tensor], other: list[torch.Tensor], gts: list[torch.Tensor], top: int = 300,
           iou: float = 0.5) -> list[dict]:
    """Ground-truth boxes no proposal among the first ``top`` covers at ``iou``, with the best IoU of each method."""
    out = []
    for k, (p, q, g) in enumerate(zip(proposals, other, gts)):
        if not len(g):
            continue
        best = box_iou(g, p[:top]).max(1).values if len(p) else g.new_zeros(len(g))
        alt = box_iou(g, q).max(1).values if len(q) else g.new_zeros(len(g))
        for j in torch.where(best < iou)[0].tolist():
            x0, y0, x1, y1 = g[j].tolist()
            out.append({"image": k, "box": [x0, y0, x1, y1], "size": f"{x1 - x0:.0f}x{y1 - y0:.0f}",
                        "best_iou": float(best[j]), "other_best_iou": float(alt[j])})
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="paperlab proposal-recall", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="a config whose data is datamodules.proposals (e.g. configs/rcnn/demo.yaml)")
    p.add_argument("--ckpt", required=True, help="Faster R-CNN checkpoint whose RPN is compared")
    p.add_argument("--out", default="docs/figures/proposal-recall", help="folder of recall.md and recall.png")
    args = p.parse_args(argv)
    from datamodules.proposals import ProposalDetectionDataModule

    init = yaml.safe_load(Path(args.config).read_text())["data"]["init_args"]
    dm = ProposalDetectionDataModule(**init)
    dm.setup("validate")
    items = [dm._val[i] for i in range(len(dm._val))]
    images, gts = [i for i, _ in items], [t["boxes"] for _, t in items]
    ss = [t["proposals"] for _, t in items]
    rpn = rpn_proposals(args.ckpt, images, max(COUNTS))
    curves = {"selective search": recall_curve(ss, gts), "RPN": recall_curve(rpn, gts)}
    mean = {"selective search": sum(map(len, ss)) / len(ss), "RPN": sum(map(len, rpn)) / len(rpn)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [f"| proposals | {' | '.join(f'{name} @{t}' for name in curves for t in IOUS)} |",
            "|---:|" + "---:|" * (len(curves) * len(IOUS))]
    for j, n in enumerate(COUNTS):
        rows.append(f"| {n} | " + " | ".join(f"{curves[name][t][j]:.3f}" for name in curves for t in IOUS) + " |")
    text = (f"Recall of {sum(map(len, gts))} ground-truth boxes on {dm.dataset_name} val ({len(gts)} images) against the "
            f"number of proposals per image (mean available: " + ", ".join(f"{k} {v:.0f}" for k, v in mean.items())
            + f"). Selective search: {init.get('proposals', 'fast')} mode, OpenCV's order; RPN: {args.ckpt}, by objectness.\n\n"
            + "\n".join(rows) + "\n")
    missed = misses(rpn, ss, gts)
    text += (f"\nObjects the RPN's first 300 boxes miss at IoU 0.5 ({len(missed)}): "
             + ("; ".join(f"val image {m['image']}, a {m['size']} px box, best RPN IoU {m['best_iou']:.3f} "
                          f"(selective search, all its boxes: {m['other_best_iou']:.3f})" for m in missed) or "none") + ".\n")
    (out / "recall.md").write_text(text)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(IOUS), figsize=(5 * len(IOUS), 3.6))
    for ax, t in zip(axes, IOUS):
        for name, curve in curves.items():
            ax.plot(COUNTS, curve[t], marker="o", label=name)
        ax.set(xscale="log", xlabel="proposals per image", ylabel=f"recall at IoU {t}", ylim=(0, 1.02),
               title=f"{dm.dataset_name} val, IoU {t}")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recall.png", dpi=110)
    print(text)
    print(f"wrote {out / 'recall.md'} and {out / 'recall.png'}")
