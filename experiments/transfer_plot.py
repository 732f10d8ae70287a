"""Plot a transfer sweep: target accuracy against N labels per strategy, or against n copied layers.

Reads every ``<sweep runs>/<trial>/results.json`` with its ``config.yaml`` and averages seeds
(mean ± std). ``--x labels`` (configs/sweeps/transfer_by_size.yaml): one line per strategy
(linear probe, fine-tune last block, fine-tune all, scratch, random-feature controls).
``--x layers`` (configs/sweeps/transfer_layers.yaml): Yosinski's AnB / AnB+ against n.

    python experiments/transfer_plot.py runs/transfer-by-size [--out docs/figures/transfer_by_size.png]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import yaml

from experiments.sweep.stats import mean_std

LAYERS = ("features.0", "features.4", "features.8", "features.10", "features.12", "classifier.1", "classifier.4")


def strategy(model: dict) -> str:
    """The study's name for a trial's init_from + freeze."""
    freeze, pretrained = list(model.get("freeze") or []), bool(model.get("init_from"))
    if not freeze:
        return "fine-tune all" if pretrained else "scratch"
    name = "linear probe" if len(freeze) > 1 else "fine-tune last block"
    return name if pretrained else f"{name} (random features)"


def copied_layers(model: dict) -> int:
    """Yosinski's n: how many of the transferable layers ``reinit`` leaves copied."""
    fresh = [r.removeprefix("net.") for r in model.get("reinit") or []]
    return sum(not any(layer == r or layer.startswith(r + ".") for r in fresh) for layer in LAYERS)


def collect(folder: Path, x: str, metric: str) -> dict[str, dict[int, list[float]]]:
    """{line: {x value: [metric per seed]}} over the finished trials under ``folder``."""
    lines: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for results in sorted(folder.glob("*/results.json")):
        res = json.loads(results.read_text())
        value = (res.get("metrics") or {}).get(metric)
        if res.get("state") != "finished" or value is None:
            continue
        cfg = yaml.safe_load((results.parent / "config.yaml").read_text())
        model = cfg["model"]["init_args"]
        if x == "labels":
            lines[strategy(model)][int(cfg["data"]["init_args"]["train_size"])].append(float(value))
        else:
            frozen = "loaded" in (model.get("freeze") or [])
            lines["AnB (copied layers frozen)" if frozen else "AnB+ (fine-tuned)"][copied_layers(model)].append(float(value))
    return lines


def plot(folder: Path, x: str = "labels", metric: str = "val/acc1", out: Path | None = None) -> tuple[list[str], Path]:
    """Draw the sweep under ``folder`` to ``out`` (default ``<folder>/<x>.png``); returns its markdown table and the PNG.

    Raises ValueError when no trial under ``folder`` has finished with ``metric``.
    """
    lines = collect(folder, x, metric)
    if not lines:
        raise ValueError(f"{folder}: no finished trial with {metric} in */results.json")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    names = sorted(lines)
    table = [f"| {'N labels' if x == 'labels' else 'n layers'} | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(lines)]
    for name in names:
        pts = sorted(lines[name].items())
        stats = [mean_std(v) for _, v in pts]
        ax.errorbar([p for p, _ in pts], [m for m, _ in stats], yerr=[s or 0 for _, s in stats], label=name,
                    marker="o", capsize=3)
    for v in sorted({v for pts in lines.values() for v in pts}):
        cells = [mean_std(lines[n][v]) if v in lines[n] else (None, None) for n in names]
        table.append(f"| {v} | " + " | ".join("–" if m is None else f"{m:.3f} ± {s or 0:.3f} ({len(lines[n][v])})"
                                              for (m, s), n in zip(cells, names, strict=True)) + " |")
    if x == "labels":
        ax.set_xscale("log")
    ax.set_xlabel("target labels N" if x == "labels" else "layers copied from the source net (n)")
    ax.set_ylabel(f"{metric} (ShapesWorld target)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    out = out or folder / f"{x}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return table, out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="the sweep's runs folder, e.g. runs/transfer-by-size")
    ap.add_argument("--x", choices=("labels", "layers"), default="labels")
    ap.add_argument("--metric", default="val/acc1")
    ap.add_argument("--out", type=Path, default=None, help="PNG path (default: <folder>/<x>.png)")
    args = ap.parse_args(argv)
    try:
        table, out = plot(args.folder, args.x, args.metric, args.out)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print("\n".join(table))
    print(f"plot: {out}")

if __name__ == "__main__":
    main()
