"""Transfer learning for every classification and dense family: initialise from another run, freeze
blocks, give blocks their own learning rates.

``Transferable`` is the ``Optimised`` mixin of the classification and segmentation bases; it reads
three hyper-parameters the family bases declare:

* ``init_from``: a run folder (its best, else last, checkpoint) or a checkpoint file of the same
  family. Every tensor whose name and shape match is copied; the others keep their fresh
  initialisation and are named in the log (a head for another number of classes, say). ``reinit``
  names blocks to keep fresh even when they fit (Yosinski 2014's "copy the first n layers").
* ``freeze``: blocks (module names, ``net.features`` or ``features``) whose parameters get no
  gradient and whose BatchNorm/dropout stay in eval mode; ``loaded`` names every layer whose
  tensors all came from ``init_from`` (Yosinski's frozen "AnB" with ``reinit`` choosing n).
* ``lr_mult``: block -> factor on the peak learning rate (layer-wise learning rates); the longest
  matching name wins, unnamed parameters get 1.

A name that matches no module, a missing run folder or a checkpoint of another family is the
user's ``ConfigError`` (one line, exit code 2). No Lightning import: only ``hparams`` is read.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from contracts.errors import ConfigError
from lit_modules.optim import Optimised, param_groups

log = logging.getLogger(__name__)


def resolve_checkpoint(path: str | Path, key: str = "model.init_args.init_from") -> Path:
    """A checkpoint file, or a run folder's best (results.json), else ``last.ckpt``, else newest checkpoint."""
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_dir():
        raise ConfigError(f"{key}={str(path)!r}: no such run folder or checkpoint file")
    results = p / "results.json"
    if results.is_file():
        best = (json.loads(results.read_text()).get("checkpoints") or {}).get("best") or {}
        if best.get("path") and Path(best["path"]).is_file():
            return Path(best["path"])
    ckpts = sorted((p / "checkpoints").glob("*.ckpt"), key=lambda c: (c.name != "last.ckpt", -c.stat().st_mtime))
    if not ckpts:
        raise ConfigError(f"{key}={str(path)!r}: the run folder holds no checkpoints/*.ckpt")
    return ckpts[0]


def read_checkpoint(path: Path, key: str = "model.init_args.init_from") -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)  # hparams hold dataclasses
    except Exception as e:
        raise ConfigError(f"{key}={str(path)!r} is not a readable checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ConfigError(f"{key}={str(path)!r} holds no state_dict (not a Lightning checkpoint)")
    return ckpt


def checkpoint_family(ckpt: dict) -> tuple[str | None, str | None]:
    """(class path, family) of the module that wrote ``ckpt``; None where unknown."""
    class_path = (ckpt.get("hyper_parameters") or {}).get("_class_path")
    if not class_path:
        return None, None
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return class_path, None
    return class_path, getattr(cls, "family", None)


def block_names(module: nn.Module, depth: int = 2) -> list[str]:
    """Names of the submodules down to ``depth`` dots (what ``freeze``/``lr_mult``/``reinit`` accept)."""
    return [n for n, m in module.named_modules() if n and n.count(".") < depth and next(m.parameters(), None) is not None]


def resolve_blocks(module: nn.Module, names: list[str], key: str) -> list[str]:
    """Full module names of ``names`` (``features`` is tried as ``net.features`` too); unknown -> ConfigError."""
    modules = dict(module.named_modules())
    out, bad = [], []
    for name in names:
        full = name if name in modules else f"net.{name}" if f"net.{name}" in modules else None
        (out if full else bad).append(full or name)
    if bad:
        raise ConfigError(f"model.init_args.{key}: {bad} match no module of {type(module).__name__}; "
                          f"blocks: {', '.join(block_names(module))}")
    return out


def _under(name: str, block: str) -> bool:
    return name == block or name.startswith(block + ".")


def init_from(module: nn.Module, path: str | Path, family: str, reinit: list[str] = ()) -> dict[str, list[str]]:
    """Copy the fitting tensors of ``path``'s checkpoint into ``module``; returns what happened by key
    (``loaded``, ``reinitialised`` (shape differs or in ``reinit``), ``not_in_checkpoint``)."""
    ckpt_path = resolve_checkpoint(path)
    ckpt = read_checkpoint(ckpt_path)
    class_path, theirs = checkpoint_family(ckpt)
    if class_path and theirs != family:
        raise ConfigError(f"model.init_args.init_from={str(path)!r} is a checkpoint of {class_path} "
                          f"({theirs or 'unknown'} family); {type(module).__name__} initialises from a {family} run only")
    blocks = resolve_blocks(module, list(reinit), "reinit")
    own, src = module.state_dict(), ckpt["state_dict"]
    report: dict[str, list[str]] = {"loaded": [], "reinitialised": [], "not_in_checkpoint": []}
    state = {}
    for k, v in own.items():
        if k not in src:
            report["not_in_checkpoint"].append(k)
        elif src[k].shape != v.shape or any(_under(k, b) for b in blocks):
            report["reinitialised"].append(k)
        else:
            state[k] = src[k]
            report["loaded"].append(k)
    if not set(own) & set(src):
        raise ConfigError(f"model.init_args.init_from={str(path)!r}: no tensor of {ckpt_path} fits "
                          f"{type(module).__name__} (its keys: {list(src)[:4]})")
    if state:
        module.load_state_dict(state, strict=False)
    fresh = report["reinitialised"] + report["not_in_checkpoint"]
    log.warning("init_from %s: loaded %d tensors; re-initialised %d: %s", ckpt_path, len(state), len(fresh),
                ", ".join(f"{k} {tuple(own[k].shape)}" + (f" (checkpoint {tuple(src[k].shape)})" if k in src
                                                          and src[k].shape != own[k].shape else "") for k in fresh) or "none")
    return report


def loaded_layers(module: nn.Module, loaded: list[str]) -> list[str]:
    """The modules that own tensors directly and got every one of them from the checkpoint."""
    got = set(loaded)
    out = []
    for name, m in module.named_modules():
        own = [f"{name}.{k}" for k in m.state_dict(keep_vars=True) if "." not in k]
        if name and own and all(k in got for k in own):
            out.append(name)
    return out


def layerwise_groups(module: nn.Module, weight_decay: float, lr_mult: dict[str, float]) -> list[dict[str, Any]]:
    """``param_groups`` split further by learning-rate factor (``lr_mult``: block -> factor)."""
    if not lr_mult:
        return param_groups(module.parameters(), weight_decay)
    blocks = dict(zip(resolve_blocks(module, list(lr_mult), "lr_mult"), lr_mult.values(), strict=True))
    by_mult: dict[float, list[nn.Parameter]] = {}
    for name, p in module.named_parameters():
        match = max((b for b in blocks if _under(name, b)), key=len, default=None)
        by_mult.setdefault(blocks[match] if match else 1.0, []).append(p)
    return [{**g, "lr_mult": mult} for mult, ps in by_mult.items() for g in param_groups(ps, weight_decay)
            if g["params"]]


class Transferable(Optimised):
    """``init_from`` / ``reinit`` / ``freeze`` / ``lr_mult`` for a family base (see the module docstring).

    The family base calls ``apply_transfer()`` in ``setup`` (after the subclass built ``self.net``,
    before the optimiser is configured; a resumed run's checkpoint is restored after it and wins).
    """

    family: str = ""  # the family bases set it ("classification", "segmentation")

    def apply_transfer(self) -> None:
        hp = self.hparams  # type: ignore[attr-defined]
        if getattr(self, "_transfer_applied", False):
            return
        self._transfer_applied = True
        if hp.get("init_from"):
            self.transfer_report = init_from(self, hp.init_from, self.family, hp.get("reinit") or [])  # type: ignore[arg-type]
        resolve_blocks(self, list(hp.get("reinit") or []), "reinit")  # a no-op without init_from, but no typo passes
        resolve_blocks(self, list(hp.get("lr_mult") or {}), "lr_mult")  # a typo fails here, not at the optimiser
        names = list(hp.get("freeze") or [])
        self._frozen = resolve_blocks(self, [n for n in names if n != "loaded"], "freeze")  # type: ignore[arg-type]
        if "loaded" in names:
            self._frozen += loaded_layers(self, getattr(self, "transfer_report", {}).get("loaded", []))
        for name in self._frozen:
            self.get_submodule(name).requires_grad_(False)  # type: ignore[attr-defined]
        if self._frozen:
            self.train(self.training)  # type: ignore[attr-defined]

    def optimizer_groups(self) -> list[dict[str, Any]]:
        hp = self.hparams  # type: ignore[attr-defined]
        return layerwise_groups(self, hp.weight_decay, dict(hp.get("lr_mult") or {}))  # type: ignore[arg-type]

    def train(self, mode: bool = True):  # type: ignore[no-untyped-def]
        super().train(mode)  # type: ignore[misc]
        for name in getattr(self, "_frozen", ()):
            self.get_submodule(name).eval()  # type: ignore[attr-defined]  # frozen BN keeps its statistics
        return self
