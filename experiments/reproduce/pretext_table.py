"""``python -m experiments.reproduce.pretext_table [--seeds 0 1 2] [--methods ...] [--runs-dir runs] [--dry-run]``.

The SSL family's comparison on ShapesWorld, one table: a random-init encoder, the four pretext
tasks, SimCLR and MoCo v2, each over the given seeds, all with the same encoder (small_cnn,
width 32) and the same world. For each method and seed:

1. pre-training: ``paperlab fit --config configs/<method>/demo.yaml --seed_everything S``
   (run folder ``<runs>/<method>-demo/s<S>``; none for the random encoder);
2. linear evaluation: ``configs/linear_eval/demo.yaml`` on that checkpoint, ``seed`` S for the
   random encoder (``<runs>/linear_eval-<method>/s<S>``; colourisation with ``grey_input``);
3. kNN: the SSL monitor's own code (``lit_modules.metrics.knn``, k 200, T 0.1) on the frozen
   encoder, bank = the first 4000 pre-training scenes, scored on the 1000 validation scenes of
   the SimCLR demo's data, computed here in one process for every encoder alike (the online
   monitor cannot score a random encoder that never trains).

Columns: linear accuracy (step 2, val/acc1), kNN accuracy (step 3), the online probe of the
pre-training run (val/linear_acc), and the pre-training wall time; mean ± std over seeds.
Finished runs are not run again, so the table fills in over several sittings; ``--dry-run``
prints the commands. Writes ``<runs>/pretext_table.md`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from experiments.reproduce.reproduce import ROOT, run_seconds
from experiments.sweep.sweep import is_done

METHODS = {  # name: (label, pre-training config or None, linear-eval overrides)
    "random": ("Random init", None, []),
    # Random weights, but BN running statistics of the data: RotNet's demo with the encoder's learning
    # rate 0 for a tenth of its steps, 31 BN updates (only the probe learns). Without it a trained encoder's gain
    # could be mere BN statistics: a random encoder evaluated as built normalises by mean 0, var 1.
    "random_bn": ("Random init + data BN statistics", "configs/rotnet/demo.yaml", []),
    "rotnet": ("RotNet (rotation)", "configs/rotnet/demo.yaml", []),
    "relative_position": ("Relative position", "configs/relative_position/demo.yaml", []),
    "jigsaw": ("Jigsaw", "configs/jigsaw/demo.yaml", []),
    "colorization": ("Colourisation", "configs/colorization/demo.yaml", ["--model.init_args.grey_input", "true"]),
    "simclr": ("SimCLR", "configs/simclr/demo.yaml", []),
    "moco": ("MoCo v2", "configs/moco/demo.yaml", []),
}
FIT_OVERRIDES = {"random_bn": ["--model.init_args.lr", "0.0", "--trainer.limit_train_batches", "0.1"]}
LINEAR_EVAL = "configs/linear_eval/demo.yaml"
KNN_DATA = "configs/simclr/demo.yaml"  # the world, bank and validation scenes every SSL demo shares


def _fit(args: list[str], log: Path, dry: bool) -> int:
    cmd = [sys.executable, "-m", "experiments", "fit", *args, "--trainer.enable_progress_bar", "false"]
    if dry:
        print(" ".join(cmd))
        return 0
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)


def run_method(name: str, seed: int, runs: Path, dry: bool) -> tuple[Path | None, Path]:
    """Pre-train (unless random) and linear-evaluate one method and seed; returns both run folders."""
    _, config, le_overrides = METHODS[name]
    pre = runs / f"{name}-demo" / f"s{seed}" if config else None
    if pre is not None and not is_done(pre):
        _fit(["--config", config, *FIT_OVERRIDES.get(name, []), "--seed_everything", str(seed), "--experiment", f"{name}-demo",
              "--run_id", f"s{seed}", "--runs_dir", str(runs)], runs / "logs" / f"{name}-s{seed}.log", dry)
    le = runs / f"linear_eval-{name}" / f"s{seed}"
    ckpt = str(pre / "checkpoints" / "last.ckpt") if pre is not None else "random"
    if not is_done(le) and (pre is None or dry or is_done(pre)):
        _fit(["--config", LINEAR_EVAL, "--seed_everything", str(seed), "--model.init_args.seed", str(seed),
              "--model.init_args.checkpoint", ckpt, *le_overrides, "--experiment", f"linear_eval-{name}",
              "--run_id", f"s{seed}", "--runs_dir", str(runs)], runs / "logs" / f"linear_eval-{name}-s{seed}.log", dry)
    return pre, le


def knn_accuracy(checkpoint: str, seed: int, grey: bool) -> float:
    """kNN accuracy of a frozen encoder (a checkpoint's ``backbone.*``, or ``random`` with ``seed``)."""
    from datamodules.ssl import SSLDataModule
    from lit_modules.linear_eval import LinearEval
    from lit_modules.metrics.knn import knn_scores

    data = yaml.safe_load((ROOT / KNN_DATA).read_text())["data"]["init_args"]
    dm = SSLDataModule(**{**data, "num_workers": 0})
    dm.setup("fit")
    model = LinearEval(checkpoint, num_classes=8, encoder="small_cnn", width=32, seed=seed, grey_input=grey).eval()
    if model.grey is not None:
        model.grey.set_stats(*dm._stats())
    encoder = model.net[0]

    def feats(loader):
        out = [(encoder(x if model.grey is None else model.grey(x)), y) for x, y in loader]
        return torch.cat([f for f, _ in out]), torch.cat([y for _, y in out])

    with torch.no_grad():
        bank_loader, val_loader = dm.val_dataloader()
        bank, bank_y = feats(bank_loader)
        val, val_y = feats(val_loader)
        scores = knn_scores(val, torch.nn.functional.normalize(bank, dim=1), bank_y, 8, 200, 0.1)
    return float((scores.argmax(1) == val_y).float().mean())


def _metric(run: Path | None, key: str) -> float | None:
    if run is None or not is_done(run):
        return None
    return json.loads((run / "results.json").read_text()).get("metrics", {}).get(key)


def _cell(values: list[float | None], fmt: str = "{:.3f}") -> str:
    got = [v for v in values if v is not None]
    if not got:
        return "not run"
    text = fmt.format(statistics.mean(got))
    if len(got) > 1:
        text += " ± " + fmt.format(statistics.stdev(got))
    return text + (f" (n={len(got)})" if len(got) != len(values) or len(got) == 1 else "")


def _minutes(values: list[float | None]) -> str:
    cell = _cell(values, "{:.1f}")
    return cell if cell == "not run" else cell.replace(" (", " min (", 1) if " (" in cell else cell + " min"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    p.add_argument("--runs-dir", type=Path, default=Path("runs"))
    p.add_argument("--dry-run", action="store_true", help="print the training commands, run nothing")
    p.add_argument("--no-train", action="store_true", help="tabulate the finished runs only (kNN is still computed)")
    p.add_argument("--online-knn", action="store_true",
                   help="take kNN from the pre-training runs' val/knn_acc (the same code; nothing for the random encoder)")
    args = p.parse_args(argv)
    runs = args.runs_dir if args.runs_dir.is_absolute() else ROOT / args.runs_dir
    rows = ["| Method | linear eval (val/acc1) | kNN (k 200) | online probe (val/linear_acc) | pre-training time |",
            "|---|---|---|---|---|"]
    for name in args.methods:
        label, _, le_overrides = METHODS[name]
        lin, knn, probe, secs = [], [], [], []
        for seed in args.seeds:
            if args.no_train:
                config = METHODS[name][1]
                pre, le = (runs / f"{name}-demo" / f"s{seed}" if config else None), runs / f"linear_eval-{name}" / f"s{seed}"
            else:
                pre, le = run_method(name, seed, runs, args.dry_run)
            if args.dry_run:
                continue
            lin.append(_metric(le, "val/acc1"))
            probe.append(_metric(pre, "val/linear_acc"))
            secs.append(run_seconds(pre / "results.json")[0] / 60 if pre is not None and is_done(pre) else None)
            ready = pre is None or is_done(pre)
            ckpt = "random" if pre is None else str(pre / "checkpoints" / "last.ckpt")
            if args.online_knn:
                knn.append(_metric(pre, "val/knn_acc"))
            else:
                knn.append(knn_accuracy(ckpt, seed, bool(le_overrides)) if ready else None)
        if not args.dry_run:
            rows.append(f"| {label} | {_cell(lin)} | {_cell(knn)} | {_cell(probe) if name != 'random' else '—'} | "
                        f"{_minutes(secs) if name not in ('random', 'random_bn') else '0'} |")
    if args.dry_run:
        return 0
    table = "\n".join(rows)
    (runs / "pretext_table.md").write_text(f"Seeds {args.seeds}; ShapesWorld (SimCLR demo's world), small_cnn width 32.\n\n{table}\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
