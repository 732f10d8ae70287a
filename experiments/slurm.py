"""``paperlab slurm``: write (and submit) the sbatch script of a ``paperlab fit`` on SLURM.

    paperlab slurm --config configs/vit/imagenet.yaml --nodes 2 --gpus-per-node 8 --time 24:00:00 \\
        [--partition gpu --account proj] [--cpus-per-task 8] [--dry-run] [-- --data.init_args.root /data/imagenet]

One ``srun`` task per GPU (Lightning's SLURM environment reads ranks from ``SLURM_PROCID``;
``--ntasks-per-node`` must equal ``trainer.devices``). ``--signal=SIGUSR1@90`` asks SLURM for SIGUSR1
90 s before the time limit or a pre-emption; the run then saves ``checkpoints/interrupted.ckpt`` after
the step in progress and requeues the job (``scontrol requeue``, allowed by ``--requeue``). The
requeued job keeps its job id, so it lands in the same run folder (``runs/<exp>/slurm-<job id>``)
and W&B run and resumes from that checkpoint (``experiments.resume``). ``--dry-run`` prints the
script; otherwise it is written to ``runs/slurm/<job name>.sbatch`` and given to ``sbatch``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from contracts.errors import ConfigError

TIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")


def add_options(p: argparse.ArgumentParser) -> None:
    """The job's resources and signal; ``paperlab sweep --slurm`` takes the same options."""
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=1, help="0: CPU tasks (one per node)")
    p.add_argument("--time", help="HH:MM:SS or D-HH:MM:SS (required)")
    p.add_argument("--partition")
    p.add_argument("--account")
    p.add_argument("--cpus-per-task", type=int, default=8)
    p.add_argument("--job-name")
    p.add_argument("--signal-seconds", type=int, default=90, help="SIGUSR1 this long before the end")
    p.add_argument("--python", default="python", help="the interpreter on the compute nodes")


def check(args: argparse.Namespace, prog: str = "paperlab slurm") -> None:
    if args.nodes < 1 or args.gpus_per_node < 0:
        raise ConfigError(f"{prog}: --nodes must be >= 1 and --gpus-per-node >= 0")
    if not args.time:
        raise ConfigError(f"{prog}: --time is required (the job's time limit, HH:MM:SS or D-HH:MM:SS)")
    if not TIME.match(args.time):
        raise ConfigError(f"{prog}: --time {args.time!r} is not HH:MM:SS or D-HH:MM:SS")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(prog="paperlab slurm", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="paperlab config(s), as for fit")
    add_options(p)
    p.add_argument("--dry-run", action="store_true", help="print the script, submit nothing")
    args = p.parse_args(argv)
    check(args)
    for c in args.config:
        if not Path(c).is_file():
            raise ConfigError(f"paperlab slurm: --config {c}: no such file")
    return args, extra


def job_name(configs: list[str]) -> str:
    from experiments.cli import experiment_name

    return "paperlab-" + experiment_name(configs)


def trainer_args(nodes: int, gpus_per_node: int) -> list[tuple[str, str]]:
    """The trainer settings of ``nodes`` x one task per GPU (one CPU task per node for 0 GPUs)."""
    tasks = max(1, gpus_per_node)
    out = [("trainer.num_nodes", str(nodes)), ("trainer.devices", str(tasks))]
    if gpus_per_node:
        out.append(("trainer.accelerator", "gpu"))
    if nodes * tasks > 1:
        out.append(("trainer.strategy", "ddp"))
    return out


def sbatch_header(args: argparse.Namespace, name: str, array: int | None = None) -> list[str]:
    """``#SBATCH`` lines and environment; ``array``: an array job of that many tasks (0 .. n-1)."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}"]
    if array is not None:
        lines.append(f"#SBATCH --array=0-{array - 1}")
    lines += [f"#SBATCH --nodes={args.nodes}",
              f"#SBATCH --ntasks-per-node={max(1, args.gpus_per_node)}", f"#SBATCH --cpus-per-task={args.cpus_per_task}"]
    if args.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={args.gpus_per_node}")
    lines.append(f"#SBATCH --time={args.time}")
    if args.partition:
        lines.append(f"#SBATCH --partition={args.partition}")
    if args.account:
        lines.append(f"#SBATCH --account={args.account}")
    lines += [f"#SBATCH --signal=SIGUSR1@{args.signal_seconds}",  # to every task: stop, save, requeue
              "#SBATCH --requeue",
              "#SBATCH --open-mode=append",  # a requeued job appends to the same log
              f"#SBATCH --output=runs/slurm/%x-{'%A_%a' if array is not None else '%j'}.out",
              ""]
    return lines


def sbatch_script(args: argparse.Namespace, extra: list[str]) -> str:
    lines = sbatch_header(args, args.job_name or job_name(args.config))
    lines += ["# The run folder is runs/<experiment>/slurm-$SLURM_JOB_ID: a requeued job (same id) resumes it.",
              "export WANDB_MODE=${WANDB_MODE:-offline}",
              f"export OMP_NUM_THREADS={args.cpus_per_task}",
              ""]
    fit = [args.python, "-m", "experiments", "fit"]
    for c in args.config:
        fit += ["--config", c]
    for key, value in trainer_args(args.nodes, args.gpus_per_node):
        fit += [f"--{key}", value]
    fit += extra
    lines.append("srun " + " ".join(shlex.quote(a) for a in fit))
    return "\n".join(lines) + "\n"


def submit(script: str, path: Path) -> None:
    """Write ``script`` to ``path`` and give it to ``sbatch``; exits with sbatch's status if it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script)
    if shutil.which("sbatch") is None:
        raise ConfigError(f"paperlab: wrote {path}, but there is no sbatch here (submit it on the cluster)")
    done = subprocess.run(["sbatch", str(path)], capture_output=True, text=True, check=False)
    print(done.stdout.strip() or done.stderr.strip())
    print(f"script: {path}")
    if done.returncode != 0:
        sys.exit(done.returncode)


def main(argv: list[str] | None = None) -> None:
    args, extra = parse(list(sys.argv[1:] if argv is None else argv))
    script = sbatch_script(args, extra)
    if args.dry_run:
        print(script, end="")
        return
    submit(script, Path("runs/slurm") / f"{args.job_name or job_name(args.config)}.sbatch")
