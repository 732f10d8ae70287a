"""Optical flow for the two-stream networks: OpenCV's Farnebäck flow, quantised and cached once.

As the papers did (Simonyan 2014; TSN), flow is computed once per video, clipped to
``±bound`` pixels a frame and stored as uint8 with the scale recorded (``255 / (2 bound)``
levels a pixel), never recomputed per epoch. Flow frame t is the motion from frame t to t+1,
so a video of N frames has N-1 flow frames.

Two stores, both refusing a cache made with other settings (the message names both):

- ShapesWorld clips (generated from a seed): one ``.pt`` file per view, named and checked by
  the view's settings (world, split, size, clip length) and the flow settings
  (:func:`shapes_flow`), under ``$PAPERLAB_CACHE/flow`` unless ``flow_dir`` says otherwise.
- Frame folders, UCF101, HMDB51: an extraction step (:func:`extract`, or
  ``python -m datamodules.flow``) writing ``<flow_dir>/<video>/flow_x_00001.jpg`` and
  ``flow_y_...`` (the TSN / mmaction2 layout) with ``flow_settings.json`` beside them; it skips
  videos already done, so a stopped extraction resumes, and reports its time.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from contracts.errors import DatasetError

log = logging.getLogger(__name__)
SETTINGS_FILE = "flow_settings.json"
DONE_FILE = ".done"


@dataclass(frozen=True)
class FlowSettings:
    """Farnebäck's parameters (``cv2.calcOpticalFlowFarneback``) and the quantisation bound.

    The defaults suit small frames (32-128 px): a 7 px window over 2 pyramid levels. For
    UCF101's 320x240 frames use ``levels=3, winsize=15`` (OpenCV's sample) and ``bound=20``
    (TSN's clip, in pixels a frame).

    Args:
        bound: flow is clipped to ``±bound`` pixels a frame before quantising to 0..255.
        pyr_scale, levels, winsize, iterations, poly_n, poly_sigma: Farnebäck's parameters.
    """

    bound: float = 4.0
    pyr_scale: float = 0.5
    levels: int = 2
    winsize: int = 7
    iterations: int = 3
    poly_n: int = 5
    poly_sigma: float = 1.1

    @property
    def scale(self) -> float:
        """uint8 levels per pixel of flow (the quantisation step is ``1 / scale``)."""
        return 255.0 / (2 * self.bound)

    def record(self) -> dict:
        return {"method": "farneback", **dataclasses.asdict(self), "scale": self.scale}


def as_settings(value: FlowSettings | dict | None) -> FlowSettings:
    if isinstance(value, FlowSettings):
        return value
    return FlowSettings(**(value or {}))


def farneback(clip: torch.Tensor | np.ndarray, settings: FlowSettings = FlowSettings()) -> np.ndarray:
    """Flow between consecutive frames of a uint8 clip ``(3, T, H, W)`` -> float32 ``(2, T-1, H, W)`` (dx, dy)."""
    import cv2  # only flow needs OpenCV

    frames = clip.numpy() if isinstance(clip, torch.Tensor) else clip
    gray = [cv2.cvtColor(np.ascontiguousarray(frames[:, t].transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY)
            for t in range(frames.shape[1])]
    s = settings
    flows = [cv2.calcOpticalFlowFarneback(a, b, None, s.pyr_scale, s.levels, s.winsize, s.iterations, s.poly_n,
                                          s.poly_sigma, 0) for a, b in itertools.pairwise(gray)]
    return np.stack(flows).transpose(3, 0, 1, 2).astype(np.float32)  # (T-1, H, W, 2) -> (2, T-1, H, W)


def quantise(flow: np.ndarray, bound: float) -> np.ndarray:
    """Float flow -> uint8, ``±bound`` mapped to 0..255 (127.5 is no motion)."""
    return np.round((np.clip(flow, -bound, bound) + bound) * (255.0 / (2 * bound))).astype(np.uint8)


def dequantise(q: torch.Tensor | np.ndarray, bound: float):
    """uint8 flow -> pixels a frame (inverse of :func:`quantise` up to half a step)."""
    return q.astype(np.float32) * (2 * bound / 255.0) - bound if isinstance(q, np.ndarray) else \
        q.float() * (2 * bound / 255.0) - bound


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _refuse(where: Path, theirs: dict, ours: dict) -> None:
    if theirs != ours:
        a, b = _flat(theirs), _flat(ours)
        diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and k.rsplit(".", 1)[-1] != "scale")
        raise DatasetError(
            f"{where}: flow cache made with other settings ({', '.join(diff)} differ).\n"
            f"  cache: {json.dumps(theirs, sort_keys=True)}\n  asked: {json.dumps(ours, sort_keys=True)}\n"
            "Delete it (or point data.init_args.flow_dir elsewhere) to compute the flow again."
        )


# --- ShapesWorld: one file per view ----------------------------------------------------------------

def load_flow_file(path: Path, expected: dict) -> torch.Tensor | None:
    """The uint8 flow ``(N, 2, F-1, H, W)`` stored at ``path``, None if absent; refuses other settings."""
    if not path.is_file():
        return None
    stored = torch.load(path, weights_only=True)
    _refuse(path, stored["settings"], expected)
    return stored["flow"]


def save_flow_file(path: Path, flow: torch.Tensor, settings: dict, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save({"settings": settings, "flow": flow, "seconds": seconds}, tmp)
    os.replace(tmp, path)  # atomic: concurrent runs each write a whole file


def shapes_flow(clips: torch.Tensor, view_settings: dict, settings: FlowSettings, path: Path | None,
                ) -> tuple[torch.Tensor, float]:
    """Quantised flow of rendered ShapesWorld clips ``(N, 3, F, H, W)`` -> ``((N, 2, F-1, H, W) uint8, seconds)``.

    Read from ``path`` when it was computed before with the same view and flow settings (seconds
    is then 0.0); computed and written there otherwise. ``path=None`` computes and keeps nothing.
    """
    expected = {"view": view_settings, "flow": settings.record()}
    if path is not None and (cached := load_flow_file(path, expected)) is not None:
        return cached, 0.0
    start = time.perf_counter()
    flow = torch.from_numpy(np.stack([quantise(farneback(c, settings), settings.bound) for c in clips]))
    seconds = time.perf_counter() - start
    log.info("optical flow of %d ShapesWorld clips: %.1f s (Farneback, 1 thread)", len(clips), seconds)
    if path is not None:
        save_flow_file(path, flow, expected, seconds)
    return flow, seconds


# --- On-disk videos: JPEG flow frames per video, resumable -----------------------------------------

def _check_folder_settings(out: Path, settings: FlowSettings, create: bool) -> None:
    record = settings.record()
    file = out / SETTINGS_FILE
    if file.is_file():
        _refuse(file, json.loads(file.read_text()), record)
    elif create:
        out.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(record, indent=1, sort_keys=True))
    else:
        raise DatasetError(f"{out} holds no {SETTINGS_FILE}: extract the flow first "
                           f"(python -m datamodules.flow --source ... --root ... --flow-dir {out}).")


def video_ids(source) -> list[str]:
    """A relative name per video of a frame-folder or video-file source (its flow folder under flow_dir)."""
    root = Path(getattr(source, "root", "")).expanduser()
    ids = []
    for entry in source.videos:
        path = Path(entry[0])
        rel = path.relative_to(root) if root.parts and path.is_relative_to(root) else Path(path.parent.name, path.name)
        ids.append(str(rel.with_suffix("")) if path.suffix else str(rel))
    return ids


def extract(source, out: str | Path, settings: FlowSettings = FlowSettings(),
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Flow JPEGs for every video of ``source`` under ``out``; videos already done are skipped.

    Returns ``{"videos", "done_before", "extracted", "skipped", "seconds"}``; a video that cannot
    be read or has one frame is skipped, counted and logged, never written half.
    """
    import cv2

    out = Path(out)
    _check_folder_settings(out, settings, create=True)
    start, done_before, extracted, skipped = time.perf_counter(), 0, 0, []
    ids = video_ids(source)
    for i, vid in enumerate(ids):
        folder = out / vid
        if (folder / DONE_FILE).is_file():
            done_before += 1
            continue
        try:
            (clip,), _ = source.load(i, lambda n: [list(range(n))])  # every frame: (3, N, H, W)
        except DatasetError as e:
            skipped.append(f"{vid} ({e})")
            continue
        if clip.shape[1] < 2:
            skipped.append(f"{vid} (one frame)")
            continue
        q = quantise(farneback(clip, settings), settings.bound)  # (2, N-1, H, W)
        folder.mkdir(parents=True, exist_ok=True)
        for t in range(q.shape[1]):
            for c, axis in enumerate("xy"):
                cv2.imwrite(str(folder / f"flow_{axis}_{t + 1:05d}.jpg"), q[c, t])
        (folder / DONE_FILE).write_text(str(q.shape[1]))
        extracted += 1
        if progress:
            progress(i + 1, len(ids))
    seconds = time.perf_counter() - start
    if skipped:
        log.warning("flow: skipped %d video(s): %s%s", len(skipped), "; ".join(skipped[:3]),
                    " ..." if len(skipped) > 3 else "")
    report = {"videos": len(ids), "done_before": done_before, "extracted": extracted, "skipped": len(skipped),
              "seconds": round(seconds, 3)}
    log.info("flow extraction into %s: %s", out, report)
    return report


class FlowFolder:
    """Reads the flow frames :func:`extract` wrote for a source's videos: uint8 ``(2, T, H, W)``."""

    def __init__(self, source, flow_dir: str | Path, settings: FlowSettings) -> None:
        self.dir = Path(flow_dir)
        _check_folder_settings(self.dir, settings, create=False)
        self.ids = video_ids(source)

    def count(self, i: int) -> int:
        done = self.dir / self.ids[i] / DONE_FILE
        if not done.is_file():
            raise DatasetError(f"{done.parent}: no flow extracted for this video (run the extraction step; "
                               "it resumes where it stopped).")
        return int(done.read_text())

    def frames(self, i: int, indices: list[int]) -> torch.Tensor:
        from PIL import Image

        folder, planes = self.dir / self.ids[i], []
        for t in indices:
            pair = []
            for axis in "xy":
                path = folder / f"flow_{axis}_{t + 1:05d}.jpg"
                try:
                    with Image.open(path) as img:
                        pair.append(np.asarray(img.convert("L")))
                except (OSError, ValueError) as e:
                    raise DatasetError(f"{path}: cannot be read as a flow image ({type(e).__name__}: {e}).") from e
            planes.append(np.stack(pair))
        return torch.from_numpy(np.stack(planes, 1))  # (2, T, H, W)


def main(argv: list[str] | None = None) -> int:
    """``python -m datamodules.flow --source ucf101 --root R --flow-dir D``: extract (resumes), print the time."""
    import argparse

    from datamodules.sources.frame_folder import FrameFolderSource
    from datamodules.sources.ucf101 import HMDB51Source, UCF101Source

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--source", choices=["frames", "ucf101", "hmdb51"], required=True)
    p.add_argument("--root", required=True, help="dataset root (frames: a split folder of class folders)")
    p.add_argument("--flow-dir", required=True)
    p.add_argument("--split", default="train", help="ucf101/hmdb51: train or test")
    p.add_argument("--fold", type=int, default=1)
    p.add_argument("--settings", default="{}", help='JSON of FlowSettings fields, e.g. \'{"bound": 20, "levels": 3}\'')
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        src = (FrameFolderSource(a.root, min_frames=2) if a.source == "frames" else
               (UCF101Source if a.source == "ucf101" else HMDB51Source)(a.root, a.split, a.fold))
        report = extract(src, a.flow_dir, as_settings(json.loads(a.settings)))
    except DatasetError as e:
        print(f"error: {e}")
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
