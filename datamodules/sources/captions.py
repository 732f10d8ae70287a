"""Image-caption datasets on disk: COCO captions json (optionally a Karpathy split file) and the
Flickr8k / Flickr30k token files.

Every source reads its annotation files at construction and checks them there, so bad input
fails before training: an empty caption raises ``DatasetError`` naming the file and the line
(or the annotation id in a json), and a caption whose image file is missing names both. Items
are ``(image uint8 (3, H, W), captions list[str])``; ``captions`` (a list of ``(image path,
captions)``) is readable without decoding any image, which is how the vocabulary is built.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from contracts.vocab import tokenize
from datamodules.sources.boxes import read_rgb


def coco_captions_help(root: Path, split: str = "train2017") -> str:
    return ("Expected the COCO 2017 captions layout:\n"
            f"  {root}/annotations/captions_{split}.json\n"
            f"  {root}/{split}/000000000139.jpg ...\n"
            "and optionally a Karpathy split file (dataset_coco.json, from Karpathy's neuraltalk2 "
            "'caption_datasets.zip'), given as data.init_args.karpathy_file.\n"
            "Get the images and 'annotations_trainval2017.zip' from https://cocodataset.org/#download.")


def flickr_help(root: Path, variant: str) -> str:
    if variant == "flickr8k":
        return ("Expected the Flickr8k layout:\n"
                f"  {root}/Flickr8k.token.txt            (lines 'image.jpg#0<TAB>caption')\n"
                f"  {root}/Flickr_8k.trainImages.txt, Flickr_8k.devImages.txt, Flickr_8k.testImages.txt\n"
                f"  {root}/Flicker8k_Dataset/*.jpg        (the zip's own spelling; 'Images/' also works)\n"
                "Get Flickr8k_Dataset.zip and Flickr8k_text.zip (University of Illinois, Hodosh et al. 2013).")
    return ("Expected the Flickr30k layout:\n"
            f"  {root}/results_20130124.token         (lines 'image.jpg#0<TAB>caption')\n"
            f"  {root}/flickr30k-images/*.jpg\n"
            "  and the Karpathy split file dataset_flickr30k.json (data.init_args.karpathy_file).\n"
            "Get flickr30k-images.tar.gz and the token file from the Flickr30k page (Young et al. 2014).")


def _checked_caption(text: Any, where: str) -> str:
    if not isinstance(text, str) or not tokenize(text):
        raise DatasetError(f"{where}: empty caption ({text!r}).")
    return text


def _load_json(path: Path, layout: str) -> dict:
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file is missing.\n{layout}")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: not valid json ({e}).") from e


class CaptionFiles(Dataset):
    """``(image, captions)`` pairs from a list of image paths and their captions.

    Args:
        captions: ``[(image path, [caption, ...]), ...]``, already checked.
        source: the annotation file, named when an image turns out unreadable.
    """

    def __init__(self, captions: list[tuple[Path, list[str]]], source: Path) -> None:
        self.captions, self.source = captions, source
        for path, caps in captions:
            if not path.is_file():
                raise DatasetError(f"{source}: captions of image {path.name} but the image file {path} is missing.")
            assert caps, path  # every reader appends at least one caption per image it lists

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[str]]:
        path, caps = self.captions[i]
        return read_rgb(path), caps


class COCOCaptions(CaptionFiles):
    """COCO captions: ``annotations/captions_<split>.json`` + ``<split>/`` images (5 captions each).

    Args:
        root: dataset folder (see ``coco_captions_help``).
        split: ``train2017``, ``val2017``, ...
        ann_file: the captions json (default ``root/annotations/captions_<split>.json``).

    Raises:
        DatasetError: missing or malformed json, an empty caption (its annotation id and image
            id), an annotation for an image id the file does not list, a missing image file.
    """

    def __init__(self, root: str | Path, split: str = "train2017", ann_file: str | Path | None = None) -> None:
        root = Path(root)
        path = Path(ann_file) if ann_file else root / "annotations" / f"captions_{split}.json"
        data = _load_json(path, coco_captions_help(root, split))
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise DatasetError(f"{path}: not a COCO captions file (needs 'images' and 'annotations').")
        files = {im["id"]: im["file_name"] for im in data["images"]}
        per_image: dict[int, list[str]] = defaultdict(list)
        for ann in data["annotations"]:
            where = f"{path}: annotation id {ann.get('id')} (image id {ann.get('image_id')})"
            if ann.get("image_id") not in files:
                raise DatasetError(f"{where}: image id not listed in 'images'.")
            per_image[ann["image_id"]].append(_checked_caption(ann.get("caption"), where))
        items = [(root / split / files[i], per_image[i]) for i in sorted(per_image)]
        super().__init__(items, path)


KARPATHY_SPLITS = {"train": ("train", "restval"), "val": ("val",), "test": ("test",)}


class KarpathyCaptions(CaptionFiles):
    """Karpathy's split files (``dataset_coco.json``, ``dataset_flickr8k.json``, ``dataset_flickr30k.json``).

    Captions are the ``raw`` sentences. An entry's image is ``root/<filepath>/<filename>`` (COCO
    2014), else ``root/<images_dir>/<filename>``, else, for COCO in the 2017 layout, the image of
    the same id in ``train2017/`` or ``val2017/``.

    Args:
        root: dataset folder.
        file: the Karpathy json.
        split: ``train`` (train + restval, as in the papers), ``val`` or ``test``.
        images_dir: folder of the images under ``root`` when entries carry no ``filepath``.
    """

    def __init__(self, root: str | Path, file: str | Path, split: str = "train", images_dir: str = "") -> None:
        root, path = Path(root), Path(file)
        data = _load_json(path, coco_captions_help(root))
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise DatasetError(f"{path}: not a Karpathy split file (needs an 'images' list).")
        if split not in KARPATHY_SPLITS:
            raise DatasetError(f"{path}: split {split!r} is not one of {sorted(KARPATHY_SPLITS)}.")
        items = []
        for n, entry in enumerate(data["images"]):
            if entry.get("split") not in KARPATHY_SPLITS[split]:
                continue
            name = entry.get("filename", "")
            caps = [_checked_caption(s.get("raw"), f"{path}: image {name!r} (entry {n}), sentence id {s.get('sentid')}")
                    for s in entry.get("sentences", [])]
            if not caps:
                raise DatasetError(f"{path}: image {name!r} (entry {n}) has no sentences.")
            items.append((self._image(root, entry, images_dir), caps))
        if not items:
            raise DatasetError(f"{path}: no images in split {split!r}.")
        super().__init__(items, path)

    @staticmethod
    def _image(root: Path, entry: dict, images_dir: str) -> Path:
        first = root / entry.get("filepath", images_dir) / entry.get("filename", "")
        if first.is_file() or "cocoid" not in entry:
            return first
        for folder in ("train2017", "val2017"):  # the 2017 release renamed COCO_<split>2014_<id>.jpg
            candidate = root / folder / f"{int(entry['cocoid']):012d}.jpg"
            if candidate.is_file():
                return candidate
        return first


def read_token_file(path: Path, layout: str) -> dict[str, list[str]]:
    """Flickr token lines ``image.jpg#k<TAB>caption`` -> {image name: [captions]} in file order."""
    if not path.is_file():
        raise DatasetError(f"{path}: caption file is missing.\n{layout}")
    captions: dict[str, list[str]] = defaultdict(list)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, text = line.partition("\t")
        name, hash_, _ = key.partition("#")
        if not sep or not hash_ or not name:
            raise DatasetError(f"{path}:{n}: expected 'image.jpg#k<TAB>caption', got {line[:80]!r}.")
        captions[name.strip()].append(_checked_caption(text, f"{path}:{n} ({key.strip()})"))
    if not captions:
        raise DatasetError(f"{path}: no captions.")
    return dict(captions)


def read_split_file(path: Path, layout: str) -> list[str]:
    """Image names, one per line (Flickr8k's ``Flickr_8k.trainImages.txt`` etc.)."""
    if not path.is_file():
        raise DatasetError(f"{path}: split file is missing.\n{layout}")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise DatasetError(f"{path}: split file lists no images.")
    return names


class FlickrCaptions(CaptionFiles):
    """Flickr8k / Flickr30k captions from the token file, restricted to a split's image names.

    Args:
        token_file: ``Flickr8k.token.txt`` or ``results_20130124.token``.
        images: folder of the jpgs.
        names: image names of the split (None: every image in the token file).
        layout: expected-layout text for error messages.

    Raises:
        DatasetError: malformed or empty caption lines (file:line), a split image with no
            captions, a missing image file (named with the token file).
    """

    def __init__(self, token_file: Path, images: Path, names: list[str] | None = None, layout: str = "") -> None:
        captions = read_token_file(token_file, layout)
        if names is None:
            names = sorted(captions)
        missing = [n for n in names if n not in captions]
        if missing:
            raise DatasetError(f"{token_file}: no captions for {len(missing)} image(s) of the split, e.g. {missing[:3]}.")
        super().__init__([(images / n, captions[n]) for n in names], token_file)
