"""UCF101 and HMDB51 in their distributed layout: class folders of .avi files plus split files.

Videos are decoded with PyAV (FFmpeg). The interface is ``frame_folder``'s: ``load(i, pick)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from contracts.errors import DatasetError
from datamodules.sources.frame_folder import Pick, frames_to_clip

_UCF = "https://www.crcv.ucf.edu/data/UCF101.php"
_HMDB = "https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-database/"


def _ucf_help(root: Path) -> str:
    return (
        "Expected UCF101 as distributed (UCF101.rar + UCF101TrainTestSplits-RecognitionTask.zip):\n"
        f"  {root}/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi ...  (101 class folders)\n"
        f"  {root}/ucfTrainTestlist/classInd.txt, trainlist01.txt, testlist01.txt (folds 01-03)\n"
        f"Get both archives from {_UCF}."
    )


def decode(path: Path) -> list[np.ndarray]:
    """All frames of a video file as uint8 ``(H, W, 3)`` RGB arrays, via PyAV."""
    import av  # imported here: only the on-disk video sources need FFmpeg

    try:
        with av.open(str(path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except (av.FFmpegError, OSError, ValueError, IndexError) as e:
        raise DatasetError(f"{path}: cannot be decoded as a video ({type(e).__name__}: {e}).") from e
    if not frames:
        raise DatasetError(f"{path}: decodes to no frames.")
    return frames


class VideoFileSource:
    """A list of ``(video file, label)`` decoded on demand; base of the UCF101 and HMDB51 sources.

    A video shorter than the clip the sampler asks for fails with ``DatasetError`` naming the file
    (its length is only known once decoded), never a padded clip.
    """

    classes: list[str]
    videos: list[tuple[Path, int]]

    def __len__(self) -> int:
        return len(self.videos)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def load(self, i: int, pick: Pick) -> tuple[list[torch.Tensor], int]:
        path, label = self.videos[i]
        frames = decode(path)
        try:
            clips = pick(len(frames))
        except ValueError as e:
            raise DatasetError(f"{path}: {e}") from e
        return [frames_to_clip([frames[j] for j in c]) for c in clips], label

    def _check_present(self, listed: list[tuple[Path, int]], split_file: Path, help_text: str) -> None:
        missing = [p for p, _ in listed if not p.is_file()]
        if missing:
            raise DatasetError(
                f"{split_file} names {len(missing)} video(s) that are not on disk, e.g. {missing[0]}"
                f"{f' and {missing[1]}' if len(missing) > 1 else ''}.\n{help_text}"
            )
        if not listed:
            raise DatasetError(f"{split_file} lists no videos.\n{help_text}")


class UCF101Source(VideoFileSource):
    """UCF101 (Soomro et al. 2012) with one of its three official train/test splits.

    Args:
        root: Folder of the 101 class folders; the split files are in ``root/ucfTrainTestlist``
            unless ``annotations`` says otherwise.
        split: "train" (``trainlistNN.txt``) or "test" (``testlistNN.txt``).
        fold: Official split 1, 2 or 3.
        annotations: Folder holding ``classInd.txt`` and the split lists.

    Raises:
        DatasetError: Missing folder or split file, a split file naming a video not on disk,
            a class not in ``classInd.txt``; an undecodable or too-short video when loaded.
    """

    def __init__(self, root: str | Path, split: str = "train", fold: int = 1,
                 annotations: str | Path | None = None) -> None:
        root = Path(root).expanduser()
        ann = Path(annotations).expanduser() if annotations else root / "ucfTrainTestlist"
        help_text = _ucf_help(root)
        name = f"{'trainlist' if split == 'train' else 'testlist'}{fold:02d}.txt"
        for f in (ann / "classInd.txt", ann / name):
            if not f.is_file():
                raise DatasetError(f"{f} does not exist.\n{help_text}")
        # classInd.txt: "1 ApplyEyeMakeup"; labels are the 1-based index minus one.
        index = {c: int(i) - 1 for i, c in (line.split() for line in _lines(ann / "classInd.txt"))}
        self.classes = [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
        listed = []
        for line in _lines(ann / name):  # "ApplyEyeMakeup/v_..._g08_c01.avi 1" (testlists: no label)
            rel = line.split()[0]
            cls = rel.split("/")[0]
            if cls not in index:
                raise DatasetError(f"{ann / name}: class {cls!r} of {rel} is not in classInd.txt.")
            listed.append((root / rel, index[cls]))
        self._check_present(listed, ann / name, help_text)
        self.videos = listed


class HMDB51Source(VideoFileSource):
    """HMDB51 (Kuehne et al. 2011) with its official splits (70/30 per class, three folds).

    Args:
        root: Folder of the 51 class folders of .avi files.
        split: "train" (id 1 in the split files) or "test" (id 2); id 0 videos are unused.
        fold: Official split 1, 2 or 3.
        annotations: Folder of ``<class>_test_split<fold>.txt`` (default ``root/testTrainMulti_7030_splits``).
    """

    def __init__(self, root: str | Path, split: str = "train", fold: int = 1,
                 annotations: str | Path | None = None) -> None:
        root = Path(root).expanduser()
        ann = Path(annotations).expanduser() if annotations else root / "testTrainMulti_7030_splits"
        help_text = (f"Expected {root}/<class>/<video>.avi and {ann}/<class>_test_split{fold}.txt "
                     f"(lines '<video>.avi 1|2|0'); get hmdb51_org.rar and test_train_splits.rar from {_HMDB}.")
        files = sorted(ann.glob(f"*_test_split{fold}.txt")) if ann.is_dir() else []
        if not files:
            raise DatasetError(f"{ann} holds no *_test_split{fold}.txt files.\n{help_text}")
        self.classes = [f.name.removesuffix(f"_test_split{fold}.txt") for f in files]
        want = "1" if split == "train" else "2"
        listed = []
        for label, (cls, f) in enumerate(zip(self.classes, files, strict=True)):
            listed += [(root / cls / v, label) for v, tag in (line.split() for line in _lines(f)) if tag == want]
        self._check_present(listed, ann, help_text)
        self.videos = listed


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]
