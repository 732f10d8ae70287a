"""``paperlab bench --config FILE``: how much Lightning costs, and where a step's time goes.

Figures, all from the config's own model and batch:

* ``overhead_ratio``: a Lightning training step ÷ a plain PyTorch step (same module, same
  fixed in-memory batch, same optimiser and schedule; the plain loop calls the module's own
  ``training_step``). Measured interleaved — one Lightning block and one plain block per round,
  in alternating order — with warm-up steps dropped: each block gives its median step, each
  round the ratio of its two blocks, and the figure is the median of the rounds' ratios, so
  machine noise hits both sides of a ratio alike (as the levers are measured).
* ``data_wait_share``: share of a real ``fit``'s step time spent waiting for the config's
  data loader (``PerfMonitor``).
* ``mfu``: achieved FLOP/s (``measure_flops`` per sample × samples/s) over the peak that
  ``experiments.peak`` measures on this CPU (or the GPU's datasheet figure).

Output: a table on stdout and, with ``--json PATH``, the same figures as JSON.

``--mode latency`` times each config's model at batch 1 instead (``experiments.bench.latency``);
``--mode det_speed`` writes the detection family's speed table: test time per image split into
proposals / features / head, training time per image and mAP, every method in one process
(``experiments.bench.det_speed``; default configs: its ``ROWS``);
``--data`` times JPEG decoding + augmentation per loader worker, PIL against torchvision.io
(``experiments.bench.data_bench``; no config).
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

import torch

from experiments import peak
from experiments.bench import latency
from experiments.bench.steps import Repeat, fit_summary, lightning_steps, plain_steps, quiet_trainer
from experiments.build import build
from experiments.callbacks import batch_size_of


def run(configs: list[str], overrides: list[str], steps: int, rounds: int, fit_steps: int,
        levers: list[str]) -> dict[str, Any]:
    module, dm, precision = build(configs, overrides)
    dm.setup("fit")
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    # 1) Interleaved Lightning vs plain blocks on the same fixed batch.
    light, plain = [], []
    first = quiet_trainer(max_steps=1, max_epochs=1, precision=precision)
    first.fit(module, train_dataloaders=Repeat(batch, 1))  # builds the optimiser/schedule exactly as fit does
    optimizer = first.optimizers[0]
    scheduler = first.lr_scheduler_configs[0].scheduler if first.lr_scheduler_configs else None
    def light_block() -> None:
        light.append(statistics.median(lightning_steps(module, batch, steps, precision)[1:]))
        module.trainer = None

    def plain_block() -> None:
        plain.append(statistics.median(plain_steps(module, batch, steps, optimizer, scheduler)[1:]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log() without a trainer warns; it is a no-op there
        for r in range(rounds):  # alternate which goes first, so neither always runs on a warmer cache
            for block in (light_block, plain_block) if r % 2 == 0 else (plain_block, light_block):
                block()
    # 2) A real fit with the config's loader for the data-wait share and throughput.
    s = fit_summary(module, dm, min(fit_steps, len(loader)), precision)
    from experiments.bench.bench_levers import inference, lever_ratios  # it imports this module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lever = lever_ratios(module, batch, optimizer, scheduler, dm, precision, levers, rounds, steps, fit_steps)
    infer = inference(module, batch)
    light_ms, plain_ms = 1000 * statistics.median(light), 1000 * statistics.median(plain)
    flops = s.get("perf/flops_per_sample")
    peak_flops = peak.peak_flops(module.device, precision)
    bs = batch_size_of(batch)
    return {
        "config": configs,
        "overrides": overrides,
        "model": type(module).__name__,
        "batch_size": bs,
        "precision": precision,
        "rounds": rounds,
        "steps_per_round": steps,
        "lightning_step_ms": light_ms,
        "plain_step_ms": plain_ms,
        "overhead_ratio": statistics.median(a / b for a, b in zip(light, plain, strict=True)),
        "overhead_ratio_per_round": [a / b for a, b in zip(light, plain, strict=True)],
        "fit_samples_per_sec": s.get("perf/samples_per_sec"),
        "data_wait_share": s.get("perf/data_wait_share"),
        "flops_per_sample": flops,
        "peak_flops": peak_flops,
        "mfu_plain_step": (flops * bs / (plain_ms / 1000) / peak_flops) if flops and peak_flops else None,
        "mfu_fit": s.get("perf/mfu"),
        "torch_threads": torch.get_num_threads(),
        "inference": infer,
        "levers": lever,
    }


def _table(r: dict[str, Any]) -> str:
    def f(v: Any, fmt: str) -> str:
        return "n/a" if v is None else format(v, fmt)

    rows = [
        ("model / batch", f"{r['model']} / {r['batch_size']} ({r['precision']}, {r['torch_threads']} threads)"),
        ("Lightning step (median)", f"{r['lightning_step_ms']:.1f} ms"),
        ("plain PyTorch step (median)", f"{r['plain_step_ms']:.1f} ms"),
        ("overhead ratio (goal <= 1.05)", f"{r['overhead_ratio']:.3f}  rounds: "
         + " ".join(f"{x:.3f}" for x in r["overhead_ratio_per_round"])),
        ("data-wait share (goal <= 5 %)", f(r["data_wait_share"] and 100 * r["data_wait_share"], ".2f") + " %"),
        ("fit throughput", f(r["fit_samples_per_sec"], ".1f") + " samples/s"),
        ("FLOPs per sample (fwd+bwd)", f(r["flops_per_sample"] and r["flops_per_sample"] / 1e6, ".1f") + " MFLOP"),
        ("peak (measured matmul)", f(r["peak_flops"] and r["peak_flops"] / 1e9, ".1f") + " GFLOP/s"),
        ("MFU (fit / plain step)", f(r["mfu_fit"] and 100 * r["mfu_fit"], ".1f") + " % / "
         + f(r["mfu_plain_step"] and 100 * r["mfu_plain_step"], ".1f") + " %"),
    ]
    inf = r["inference"]
    rows.append(("inference: latency bs1 / img/s at batch", f"{inf['latency_bs1_ms']:.2f} ms / {inf['batch_samples_per_sec']:.0f}"))
    for name, v in r["levers"].items():
        rows.append((f"lever {name} (speed-up, >1 helps)", v if isinstance(v, str) else f"{v:.3f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str]) -> None:
    """``paperlab bench``: see the module docstring; ``--mode latency``: experiments.bench.latency."""
    p = argparse.ArgumentParser(prog="paperlab bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", default=[],
                   help="config file(s), as for fit; with --mode latency, one per model to time")
    p.add_argument("--mode", choices=("train", "latency", "det_speed"), default="train",
                   help="train: overhead, data wait, MFU, levers; latency: images/s at batch 1 per config; "
                        "det_speed: the detection speed table (experiments.bench.det_speed)")
    p.add_argument("--ckpt", action="append", default=[], metavar="CONFIG=PATH",
                   help="det_speed: evaluate this checkpoint for that config's row (default: its demo run's)")
    p.add_argument("--runs-dir", type=Path, default=Path("runs/reproduce"),
                   help="det_speed: where the demo runs are (<method>-demo/reproduce)")
    p.add_argument("--train-steps", type=int, default=3, help="det_speed: timed training steps per method")
    p.add_argument("--proposal-mode", choices=("fast", "quality", "single"), default=None,
                   help="det_speed: test-time selective-search mode of R-CNN / Fast R-CNN (timing only; "
                        "default: their configs', R-CNN's fast mode)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per block")
    p.add_argument("--rounds", type=int, default=9, help="interleaved Lightning/plain block pairs")
    p.add_argument("--fit-steps", type=int, default=40, help="steps of the real fit for the data-wait share")
    p.add_argument("--levers", default="channels_last,bf16,workers",
                   help="comma list of channels_last, bf16, workers, compile (minutes on a CPU), render_cache "
                        "(ShapesWorld setup: rendering vs reading the cache)")
    p.add_argument("--images", type=int, default=60, help="latency, det_speed: images timed per model")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--data", action="store_true",
                   help="time JPEG decode + augmentation per worker, PIL vs torchvision.io (no --config)")
    p.add_argument("--data_images", type=int, default=2000, help="--data: JPEGs of 500x375 to write and read")
    p.add_argument("--data_dir", type=Path, default=Path("runs/bench-data/jpegs"),
                   help="--data: folder of the JPEGs (written once, reused)")
    p.add_argument("--recipe", default="alexnet", help="--data: classification recipe (datamodules.transforms)")
    p.add_argument("--image_size", type=int, default=224, help="--data: the recipe's output side")
    p.add_argument("--block", type=int, default=100, help="--data: images per path per round")
    args, overrides = p.parse_known_args(argv)
    if args.data:
        from experiments.bench import data_bench

        result = data_bench.run(args.data_dir, args.data_images, args.recipe, args.image_size, args.rounds,
                                min(args.block, args.data_images))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mode == "det_speed":
        if overrides:
            p.error(f"--mode det_speed takes no config overrides: {overrides}")
        from experiments.bench import det_speed

        det_speed.run(args.config, args.ckpt, args.runs_dir, args.images, args.train_steps, args.json,
                      args.proposal_mode)
        return
    if not args.config:
        p.error("--config is required (except with --data and --mode det_speed)")
    if args.mode == "latency":
        if overrides:
            p.error(f"--mode latency takes no config overrides: {overrides}")
        latency.run(args.config, args.images, args.json)
        return
    levers = [x for x in args.levers.split(",") if x]
    result = run(args.config, overrides, args.steps, args.rounds, args.fit_steps, levers)
    print(_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
        print(f"json: {args.json.resolve()}")
