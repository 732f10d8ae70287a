"""Detection data whose targets also carry selective-search ``proposals``, computed once and cached.

R-CNN and Fast R-CNN score regions proposed outside the network. As in the papers, the proposals
of a split are computed once (``lit_modules.ops.selective_search``) and read from disk after;
their time is reported apart from training (printed, and stored in the cache file). A cache is
keyed by the dataset, its settings (ShapesWorld's world, split and size; a disk source's root and
split) and the selective-search mode: a file computed for other settings is refused, naming both.

Batch contract: ``datamodules.detection``'s, plus ``targets[i]["proposals"]`` float32 ``(P, 4)``
xyxy pixels of that image (moved with it by the flip / resize). P may be 0: such images are
counted and logged, and still evaluated.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import Dataset
from torchvision import tv_tensors

from contracts.errors import ConfigError, DatasetError
from datamodules.detection import _SPLITS, DetectionDataModule
from lit_modules.ops.selective_search import SSMode, selective_search


def settings_tag(mode: str, k: int | None = None, scale: float = 1.0) -> str:
    """The cache file's name for these selective-search settings: the mode, plus k and scale when not OpenCV's."""
    return mode + (f"-k{k}" if k is not None else "") + (f"-x{scale:g}" if scale != 1.0 else "")


def proposal_layout_help(source: str, root: str | None, proposal_dir: str | None, mode: str) -> str:
    """The on-disk layout a disk source's proposals must have, and how to make it."""
    where = proposal_dir or f"{root}/proposals"
    return (f"Expected layout: {where}/{source}_<split>_{mode}.pt for the train and val splits, each a torch.save'd "
            "dict {'key': {'dataset', 'split', 'mode', 'max_boxes', 'root'}, 'ids': [image ids as the source names them, "
            "e.g. 'VOC2007/000005'], 'boxes': [float32 (P, 4) xyxy pixel tensors, one per id], 'seconds': float}. "
            "Selective search takes ~1-2 s a VOC image on one core: compute them once with "
            "`python -m datamodules.proposals --config <this config>` (writes exactly this layout).")


class _WithProposals(Dataset):
    """``(image, target)`` of ``base`` with ``target["proposals"]`` as BoundingBoxes (so transforms move them)."""

    def __init__(self, base: Dataset, boxes: list[torch.Tensor | None], mode: SSMode = "fast", max_boxes: int = 2000,
                 k: int | None = None, scale: float = 1.0) -> None:
        self.base, self.boxes, self.mode, self.max_boxes, self.k, self.scale = base, boxes, mode, max_boxes, k, scale

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        image, target = self.base[i]
        if self.boxes[i] is None:  # a fast_dev_run: computed for the images it touches only
            self.boxes[i] = selective_search(image, self.mode, self.max_boxes, k=self.k, scale=self.scale)
        props = tv_tensors.BoundingBoxes(self.boxes[i], format="XYXY", canvas_size=tuple(image.shape[-2:]))
        return image, {**target, "proposals": props}

    def __getattr__(self, name: str) -> Any:  # skipped_files, num_classes ... of the source
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)


class ProposalDetectionDataModule(DetectionDataModule):
    """``DetectionDataModule`` plus cached selective-search proposals in every target.

    Args:
        proposals: selective-search mode: "fast" (R-CNN's), "quality" or "single".
        max_proposals: proposals kept per image (R-CNN: ~2000).
        proposal_k / proposal_scale: selective search's segmentation threshold (None: OpenCV's) and the
            image's resize before it (``selective_search``'s ``k`` and ``scale``): on the 96 px demo
            scenes, "quality" with k 30 at scale 2 gives ~2000 boxes an image before the cap, as the papers
            score (fast mode ~150).
        proposal_dir: folder of the cache files (default: ``cache/proposals`` for ShapesWorld,
            ``<root>/proposals`` for a disk source, which must hold them: see ``proposal_layout_help``).
        **kwargs: ``DetectionDataModule``'s arguments.
    """

    def __init__(self, proposals: SSMode = "fast", max_proposals: int = 2000, proposal_dir: str | None = None,
                 proposal_k: int | None = None, proposal_scale: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.proposal_seconds: dict[str, float] = {}  # split -> selective-search seconds (computed or recorded)
        self.empty_proposals: dict[str, int] = {}  # split -> images with no proposal

    @classmethod
    def check_data(cls, source: str = "shapes", root: Any = None, **init_args: Any) -> None:
        """The source's own check, then (from the CLI, which passes every argument) the proposal files."""
        super().check_data(source, root, **init_args)
        if source == "shapes" or "proposals" not in init_args:  # DetectionDataModule.__init__ passes only the source
            return
        if not isinstance(root, str):
            raise ConfigError(f"data.init_args.root={root!r}: proposals are read for one root folder at a time")
        mode, folder = init_args["proposals"], init_args.get("proposal_dir")
        tag = settings_tag(mode, init_args.get("proposal_k"), init_args.get("proposal_scale", 1.0))
        for split in (init_args.get("train_split") or _SPLITS[source][0], init_args.get("val_split") or _SPLITS[source][1]):
            path = Path(folder or Path(root) / "proposals") / f"{source}_{split}_{tag}.pt"
            if not path.is_file():
                raise DatasetError(f"{path}: no selective-search proposals for split {split!r} of "
                                   f"data.init_args.root={root!r}.\n" + proposal_layout_help(source, root, folder, tag))

    def _key(self, train: bool, n: int) -> dict[str, Any]:
        h = self.hparams
        split = (h.train_split if train else h.val_split) or _SPLITS[h.source][0 if train else 1]
        key: dict[str, Any] = {"dataset": self.dataset_name, "split": split, "mode": h.proposals,
                               "max_boxes": h.max_proposals}
        if h.proposal_k is not None or h.proposal_scale != 1.0:  # OpenCV's defaults leave the key (and old caches) as they were
            key |= {"k": h.proposal_k, "scale": h.proposal_scale}
        if h.source == "shapes":
            key |= {"images": n, "world": json.loads(json.dumps(dataclasses.asdict(self.world)))}
        else:
            key |= {"root": str(h.root)}
        return key

    def cache_path(self, key: dict[str, Any]) -> Path:
        h = self.hparams
        folder = Path(h.proposal_dir or ("cache/proposals" if h.source == "shapes" else Path(h.root) / "proposals"))
        return folder / f"{h.source}_{key['split']}_{settings_tag(h.proposals, h.proposal_k, h.proposal_scale)}.pt"

    def _raw(self, train: bool) -> Dataset:
        base = super()._raw(train)
        h = self.hparams
        if getattr(self.trainer, "fast_dev_run", False):  # a wiring check: no cache written, none read
            return _WithProposals(base, [None] * len(base), h.proposals, h.max_proposals,  # type: ignore[arg-type]
                                  h.proposal_k, h.proposal_scale)
        key = self._key(train, len(base))  # type: ignore[arg-type]
        boxes, seconds = load_or_compute(self.cache_path(key), key, base, self.hparams.source == "shapes")
        split = key["split"]
        empty = sum(len(b) == 0 for b in boxes)
        self.proposal_seconds[split], self.empty_proposals[split] = seconds, empty
        if empty:
            rank_zero_warn(f"selective search returned no proposal for {empty} of {len(boxes)} {split} images: "
                           "they are still evaluated (no detection), and trained on their ground truth only")
        return _WithProposals(base, boxes)


def load_or_compute(path: Path, key: dict[str, Any], base: Dataset, may_compute: bool) -> tuple[list[torch.Tensor], float]:
    """The cached proposals of ``base`` at ``path`` (refused when computed for another ``key``), else computed.

    Returns the boxes in ``base``'s order and the selective-search seconds (recorded when cached).
    """
    n = len(base)  # type: ignore[arg-type]
    if path.is_file():
        saved = torch.load(path, weights_only=False)
        if saved.get("key") != key:
            raise DatasetError(f"{path}: proposal cache computed for {saved.get('key')} but this run needs {key}; "
                               "delete the file or set data.init_args.proposal_dir to another folder")
        boxes = _in_order(saved, base, path)
        rank_zero_info(f"proposals: {n} {key['split']} images from {path} (selective search {key['mode']} took "
                       f"{saved['seconds']:.1f} s when computed, {1e3 * saved['seconds'] / max(n, 1):.1f} ms/image)")
        return boxes, float(saved["seconds"])
    if not may_compute:
        raise DatasetError(f"{path}: no proposal cache.\n" + proposal_layout_help(path.name.split("_")[0], key.get("root"),
                                                                                  str(path.parent), path.stem.split("_")[-1]))
    start, boxes, ids = time.perf_counter(), [], []
    for i in range(n):
        image, target = base[i]
        boxes.append(selective_search(image, key["mode"], key["max_boxes"], k=key.get("k"), scale=key.get("scale", 1.0)))
        ids.append(target.get("image_id", i))
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"key": key, "ids": ids, "boxes": boxes, "seconds": seconds}, path)
    rank_zero_info(f"proposals: selective search ({key['mode']}) on {n} {key['split']} images took {seconds:.1f} s "
                   f"({1e3 * seconds / max(n, 1):.1f} ms/image, {sum(map(len, boxes)) / max(n, 1):.0f} boxes/image), "
                   f"cached at {path}")
    return boxes, seconds


def _in_order(saved: dict[str, Any], base: Dataset, path: Path) -> list[torch.Tensor]:
    """Saved boxes reordered to ``base``'s items (disk sources are matched by image id)."""
    items = getattr(base, "items", None)
    if items is None:
        if len(saved["boxes"]) != len(base):  # type: ignore[arg-type]
            raise DatasetError(f"{path}: {len(saved['boxes'])} proposal sets for {len(base)} images")  # type: ignore[arg-type]
        return saved["boxes"]
    by_id = dict(zip(saved["ids"], saved["boxes"]))
    wanted = [f"{Path(r).name}/{i}" for r, i in items]
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise DatasetError(f"{path}: no proposals for {len(missing)} images, e.g. {missing[:3]}")
    return [by_id[w] for w in wanted]


def main(argv: list[str] | None = None) -> None:
    """``python -m datamodules.proposals --config C``: compute a config's proposal caches (disk sources too)."""
    import argparse

    import yaml

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--config", required=True)
    p.add_argument("--proposals", choices=("fast", "quality", "single"), default=None, help="mode (default: the config's)")
    p.add_argument("--proposal_k", type=int, default=None, help="segmentation threshold (default: the config's)")
    p.add_argument("--proposal_scale", type=float, default=None, help="image resize first (default: the config's)")
    p.add_argument("--splits", nargs="+", choices=("train", "val"), default=["train", "val"])
    args = p.parse_args(argv)
    init = yaml.safe_load(Path(args.config).read_text())["data"]["init_args"]
    init |= {k: v for k in ("proposals", "proposal_k", "proposal_scale") if (v := getattr(args, k)) is not None}
    dm = ProposalDetectionDataModule(**init)
    for train in [s == "train" for s in args.splits]:
        base = DetectionDataModule._raw(dm, train)
        key = dm._key(train, len(base))  # type: ignore[arg-type]
        boxes, seconds = load_or_compute(dm.cache_path(key), key, base, True)
        print(f"{dm.cache_path(key)}: {len(boxes)} images, {sum(map(len, boxes)) / max(len(boxes), 1):.0f} boxes/image "
              f"(min {min(map(len, boxes), default=0)}), selective search {seconds:.1f} s "
              f"({1e3 * seconds / max(len(boxes), 1):.1f} ms/image)")


if __name__ == "__main__":
    main()
