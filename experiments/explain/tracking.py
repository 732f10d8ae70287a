"""``paperlab explain --wandb``: the PNG grids and the flat figures as a W&B run of their own,
grouped with the training run (offline unless ``WANDB_MODE=online``, like every paperlab run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def flat(result: dict[str, Any], prefix: str = "explain") -> dict[str, float]:
    """The JSON's numbers as ``explain/<key>[/<sub-key>]`` (W&B summaries hold scalars)."""
    out: dict[str, float] = {}
    for k, v in result.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}/{k}"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}/{k}"] = float(v)
    return out


def log_to_wandb(run_dir: Path, pngs: list[Path], result: dict[str, Any], project: str = "paperlab") -> str:
    """Log ``pngs`` and ``result``'s numbers to a new W&B run in ``run_dir``; returns its folder."""
    import wandb  # only --wandb pays for the import

    experiment, run_id = run_dir.parent.name, run_dir.name
    run = wandb.init(project=project, name=f"{experiment}/{run_id}-explain", group=experiment, job_type="explain",
                     dir=str(run_dir), config={k: result[k] for k in ("config", "ckpt_path", "method", "layer",
                                                                        "samples", "images")})
    try:
        run.log({f"explain/{p.stem}": wandb.Image(str(p)) for p in pngs})
        run.summary.update(flat(result))
        return str(Path(run.dir).parent)
    finally:
        run.finish()
