"""Pre-extracted frames, one folder of JPEGs per video: ``root/<class>/<video>/img_00001.jpg``.

Every video source (this one, ``ucf101``, ShapesWorld clips in ``datamodules.video``) has one
interface, so the datamodule's clip sampler never knows where frames come from:

- ``len(source)``, ``source.classes``, ``source.num_classes``;
- ``source.load(i, pick) -> (clips, label)``: ``pick(num_frames)`` returns K lists of frame
  indices (the sampler), and ``clips`` is a list of K uint8 tensors ``(3, T, H, W)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from contracts.errors import DatasetError

log = logging.getLogger(__name__)
Pick = Callable[[int], Sequence[Sequence[int]]]


def _layout_help(root: Path, pattern: str) -> str:
    return (
        "Expected one folder of frames per video, in class folders:\n"
        f"  {root}/<class>/<video>/{pattern.format(1)}\n"
        f"  {root}/<class>/<video>/{pattern.format(2)} ...\n"
        "numbered from 1 without gaps (e.g. `ffmpeg -i video.avi -q:v 2 "
        f"{pattern.replace('{:05d}', '%05d')}`, the layout mmaction2 and TSN extract to)."
    )


def frames_to_clip(frames: Sequence[np.ndarray]) -> torch.Tensor:
    """T uint8 ``(H, W, 3)`` frames -> uint8 tensor ``(3, T, H, W)``."""
    return torch.from_numpy(np.stack(frames)).permute(3, 0, 1, 2).contiguous()  # (T,H,W,3) -> (3,T,H,W)


class FrameFolderSource:
    """Videos stored as numbered JPEG frames, labelled by their class folder.

    Args:
        root: Folder of class folders (one split; the datamodule uses ``root/train``, ``root/val``).
        min_frames: Videos with fewer frames cannot give a clip; they are skipped, counted and
            logged (never padded into a clip of repeated or zero frames).
        pattern: Frame file name, ``str.format``-ed with the 1-based frame number.

    Raises:
        DatasetError: Missing root, no class folders, no videos, a video folder whose numbering
            has gaps (names the folder and the missing frames), a frame that cannot be decoded.
    """

    def __init__(self, root: str | Path, min_frames: int = 1, pattern: str = "img_{:05d}.jpg") -> None:
        self.root, self.pattern = Path(root).expanduser(), pattern
        if not self.root.is_dir():
            raise DatasetError(f"Frame folder root {self.root} does not exist.\n{_layout_help(self.root, pattern)}")
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if not self.classes:
            raise DatasetError(f"{self.root} has no class folders.\n{_layout_help(self.root, pattern)}")
        regex = re.compile("^" + re.escape(pattern).replace(r"\{:05d\}", r"(\d+)") + "$")
        self.videos: list[tuple[Path, int, int]] = []  # (folder, num_frames, label)
        skipped: list[str] = []
        for label, name in enumerate(self.classes):
            for video in sorted(p for p in (self.root / name).iterdir() if p.is_dir()):
                numbers = sorted(int(m.group(1)) for f in video.iterdir() if (m := regex.match(f.name)))
                if numbers and numbers != list(range(1, len(numbers) + 1)):
                    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
                    raise DatasetError(
                        f"{video}: frame numbering has gaps (missing {missing[:5]}"
                        f"{' ...' if len(missing) > 5 else ''} of 1..{numbers[-1]}); re-extract the "
                        f"video or renumber its frames.\n{_layout_help(self.root, pattern)}"
                    )
                if len(numbers) < min_frames:
                    skipped.append(f"{video.name} ({len(numbers)} frames)")
                    continue
                self.videos.append((video, len(numbers), label))
        self.skipped = skipped
        if skipped:
            log.warning("%s: skipped %d video(s) with fewer than %d frames: %s%s", self.root, len(skipped),
                        min_frames, ", ".join(skipped[:5]), " ..." if len(skipped) > 5 else "")
        if not self.videos:
            raise DatasetError(f"{self.root} holds no video with at least {min_frames} frames "
                               f"({len(skipped)} skipped).\n{_layout_help(self.root, pattern)}")

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _frame(self, folder: Path, index: int) -> np.ndarray:
        path = folder / self.pattern.format(index + 1)
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"))
        except (OSError, ValueError) as e:
            raise DatasetError(f"{path}: cannot be read as an image ({type(e).__name__}: {e}).") from e

    def load(self, i: int, pick: Pick) -> tuple[list[torch.Tensor], int]:
        folder, n, label = self.videos[i]
        clips = pick(n)
        cache = {j: self._frame(folder, j) for j in sorted({j for c in clips for j in c})}  # each JPEG once
        return [frames_to_clip([cache[j] for j in c]) for c in clips], label
