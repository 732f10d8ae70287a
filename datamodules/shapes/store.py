"""Every sample of a ShapesWorld view, rendered once per machine and kept on disk.

A view's samples are a pure function of its settings (world config, split, size, view
arguments) and of the generator's code, so the rendering that a run does at setup (about 40 s
for the 24k images of the AlexNet demo on one core) can be read back by the next run with the
same settings: the next seed of a sweep, the next level of an ablation, a rerun. The file's
name holds a hash of the view's settings, of the source of ``datamodules/shapes`` and of the
versions of the libraries that draw (Pillow, NumPy), so a change to any of them renders again.

The folder is ``$PAPERLAB_CACHE`` (default ``~/.cache/paperlab``), under ``shapes/``;
``PAPERLAB_CACHE=off`` renders every time and writes nothing. Deleting the folder is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import PIL
import torch
from torch.utils.data import Dataset

CACHE_ENV = "PAPERLAB_CACHE"
_OFF = {"off", "0", "none", "false"}


def cache_dir() -> Path | None:
    """``$PAPERLAB_CACHE/shapes`` (default ``~/.cache/paperlab/shapes``); None when caching is off."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    return (Path(value).expanduser() if value else Path.home() / ".cache" / "paperlab") / "shapes"


@cache
def _generator_hash() -> str:
    """Hash of the generator's source and of the drawing libraries' versions."""
    h = hashlib.sha256(f"pillow {PIL.__version__} numpy {np.__version__}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def view_key(view: Dataset) -> str | None:
    """A hash of everything that decides the view's samples, or None if they cannot be keyed.

    None when a setting is a callable (a transform: its effect is not in its ``repr``) or has
    no stable ``repr`` (one that shows a memory address).
    """
    settings = sorted(vars(view).items())
    if any(callable(v) for _, v in settings):
        return None
    text = f"{type(view).__module__}.{type(view).__qualname__} {settings!r}"
    if " at 0x" in text:
        return None
    return hashlib.sha256((text + _generator_hash()).encode()).hexdigest()


def _column(values: list) -> torch.Tensor | list:
    """Tensors of one shape and dtype stacked into one (one record on disk, fast to read), else the list."""
    first = values[0]
    if isinstance(first, torch.Tensor) and all(
        isinstance(v, torch.Tensor) and v.shape == first.shape and v.dtype == first.dtype for v in values
    ):
        return torch.stack(values)
    return values


def render_columns(view: Dataset) -> tuple:
    """The view's samples by field: ``view[i] = (a_i, b_i, ...)`` gives ``(A, B, ...)``.

    A field whose values are tensors of one shape comes stacked (``(N, ...)``), any other as a
    list of N values (ints, caption lists, target dicts). Read from the cache when this view was
    rendered before; ``()`` for an empty view.
    """
    if len(view) == 0:  # type: ignore[arg-type]
        return ()
    folder, key = cache_dir(), view_key(view)
    path = None
    if folder is not None and key is not None:
        split = getattr(view, "split", "all")
        path = folder / f"{type(view).__name__}-{split}-{len(view)}-{key[:20]}.pt"  # type: ignore[arg-type]
        if path.is_file():
            try:
                return tuple(torch.load(path, weights_only=True))
            except (RuntimeError, OSError, EOFError, pickle.UnpicklingError) as e:  # truncated or foreign: render again
                warnings.warn(f"ShapesWorld cache {path} could not be read ({e}); rendering again", stacklevel=2)
    samples = [view[i] for i in range(len(view))]  # type: ignore[arg-type]
    columns = tuple(_column(list(field)) for field in zip(*samples, strict=True))
    if path is not None:
        _write(columns, path)
    return columns


def _write(columns: tuple, path: Path) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # concurrent runs each write their own
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(list(columns), tmp)
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    except OSError as e:  # a read-only or full disk costs the next run the rendering, nothing else
        with contextlib.suppress(OSError):
            tmp.unlink()
        warnings.warn(f"ShapesWorld cache not written to {path.parent} ({e}); set {CACHE_ENV}=off to skip it",
                      stacklevel=2)
