"""One datamodule for image captioning: ShapesWorld captions, COCO captions, Flickr8k, Flickr30k.

Batch contract (every source yields it): ``(images, tokens, references)`` with images float32
(B, 3, H, W) normalised, tokens int64 (B, T) = ``<bos> w1 .. wn <eos>`` padded with ``<pad>``
(id 0) to the batch's longest caption, and references ``list[list[str]]``: every caption of
each image, normalised (lower case, words joined by single spaces) for BLEU. Training draws
one random caption per image each time the image is served (so every epoch sees other
captions); validation and test take the first caption for the loss and keep all references.

The vocabulary (``self.vocab``) is built from the TRAINING captions with ``min_count`` when the
datamodule is set up; the module takes it from here and saves it in its checkpoints.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset
from torchvision.transforms import v2

from contracts.errors import DatasetError
from contracts.vocab import PAD, Vocabulary, normalize
from datamodules.base import FamilyDataModule, Split
from datamodules.pixels import PixelNormalize
from datamodules.shapes.captions import ShapesCaptions
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.store import render_columns
from datamodules.sources.captions import (
    COCOCaptions,
    FlickrCaptions,
    KarpathyCaptions,
    coco_captions_help,
    flickr_help,
    read_split_file,
)

Source = Literal["shapes", "coco", "flickr8k", "flickr30k"]
FLICKR8K_SPLITS = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt", "test": "Flickr_8k.testImages.txt"}


class CachedShapesCaptions(Dataset):
    """ShapesWorld caption scenes rendered once: uint8 images (N, 3, H, W) and their captions."""

    def __init__(self, view: ShapesCaptions) -> None:
        images, captions = render_columns(view) or (torch.empty(0, 3, 1, 1, dtype=torch.uint8), [])
        self.images = images  # (N, 3, H, W) uint8
        self.captions = [(Path(f"shapes/{view.split}/{i}"), caps) for i, caps in enumerate(captions)]

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[str]]:
        return self.images[i], self.captions[i][1]


class Encoded(Dataset):
    """``(image, tokens of one caption, normalised references)``; ``train`` picks the caption at random."""

    def __init__(self, base: Dataset, vocab: Vocabulary, max_len: int, train: bool,
                 transform: v2.Transform | None = None) -> None:
        self.base, self.vocab, self.max_len, self.train, self.transform = base, vocab, max_len, train, transform

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        image, captions = self.base[i]
        if self.transform is not None:
            image = self.transform(image)
        chosen = random.choice(captions) if self.train else captions[0]
        tokens = torch.tensor(self.vocab.encode(chosen, self.max_len), dtype=torch.long)
        return image, tokens, [normalize(c) for c in captions]


class Collate:
    """Stack and normalise the images in one op, pad the token sequences with <pad>."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.normalize = PixelNormalize(mean, std)

    def __call__(self, samples: list[tuple[torch.Tensor, torch.Tensor, list[str]]]):
        images = torch.stack([s[0] for s in samples]).float()  # (B, 3, H, W)
        tokens = pad_sequence([s[1] for s in samples], batch_first=True, padding_value=PAD)  # (B, T)
        return self.normalize(images), tokens, [s[2] for s in samples]


class CaptioningDataModule(FamilyDataModule):
    """Images with several reference captions each.

    Args:
        source: "shapes" (embedded grammar captions), "coco" (``annotations/captions_<split>.json``,
            or Karpathy's split with ``karpathy_file``), "flickr8k" (token file + official split
            files), "flickr30k" (token file + Karpathy's ``dataset_flickr30k.json`` for the split).
        root: dataset folder for the on-disk sources.
        karpathy_file: Karpathy split json (COCO: optional, the papers' split; Flickr30k: required).
        image_size: side of the square network input (on-disk images: resized, then cropped).
        min_count: words seen fewer times in the training captions become <unk> (Xu et al.: 5 on
            COCO; Vinyals et al.: 5).
        max_caption_len: longest training caption in tokens incl. <bos>/<eos> (longer ones cut).
        batch_size: per-process batch size.
        eval_batch_size: val/test batch size (default ``batch_size``).
        num_workers: loader processes; -1: 0 for cached ShapesWorld, else one per spare core.
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld training images.
        val_size: ShapesWorld validation (and test) images.
        captions_per_image: ShapesWorld references per image (5, as COCO).
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld captions", "coco": "COCO captions",
                                               "flickr8k": "Flickr8k", "flickr30k": "Flickr30k"}
    shapes_description: ClassVar[str] = "ShapesWorld captions"
    # Only a test run reads the test captions (Karpathy's test split, Flickr8k's test file).
    test_stages: ClassVar[tuple[str, ...]] = ("test",)

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        karpathy_file: str | None = None,
        image_size: int = 64,
        min_count: int = 1,
        max_caption_len: int = 24,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        world: WorldConfig = WorldConfig(),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
        captions_per_image: int = 5,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        self.check_data(source, root, karpathy_file=karpathy_file)
        self.vocab: Vocabulary | None = None

    @classmethod
    def _check_source(cls, source: str, root: str | None, karpathy_file: str | None = None, **_: object) -> None:
        path = Path(root or "")
        if source == "coco":
            need, layout = [path / "annotations" / "captions_train2017.json"], coco_captions_help(path)
            if karpathy_file:
                need = [Path(karpathy_file)]
        elif source == "flickr8k":
            need, layout = [path / "Flickr8k.token.txt", *(path / f for f in FLICKR8K_SPLITS.values())], flickr_help(path, source)
        else:
            layout = flickr_help(path, source)
            if not karpathy_file:
                raise DatasetError(f"data.init_args.karpathy_file is needed for Flickr30k (its split).\n{layout}")
            need = [path / "results_20130124.token", Path(karpathy_file)]
        for file in need:
            if not root or not file.is_file():
                raise DatasetError(f"data.init_args.root={root!r}: {file} is missing.\n{layout}")

    def _flickr8k_images(self, root: Path) -> Path:
        for name in ("Flicker8k_Dataset", "Flickr8k_Dataset", "Images", "images"):
            if (root / name).is_dir():
                return root / name
        raise DatasetError(f"{root}: no image folder (Flicker8k_Dataset/ or Images/).\n{flickr_help(root, 'flickr8k')}")

    def _captions(self, split: Split) -> Dataset:
        """The source's ``(image uint8, [captions])`` items of ``split``."""
        h = self.hparams
        root = Path(h.root or "")
        if h.source == "shapes":
            size = h.train_size if split == "train" else h.val_size
            return CachedShapesCaptions(ShapesCaptions(split, size, self.world, h.captions_per_image))
        if h.source == "coco":
            if h.karpathy_file:
                return KarpathyCaptions(root, h.karpathy_file, split)
            # without Karpathy's split, val2017 serves as both validation and test
            return COCOCaptions(root, "train2017" if split == "train" else "val2017")
        if h.source == "flickr8k":
            layout = flickr_help(root, "flickr8k")
            names = read_split_file(root / FLICKR8K_SPLITS[split], layout)
            return FlickrCaptions(root / "Flickr8k.token.txt", self._flickr8k_images(root), names, layout)
        return KarpathyCaptions(root, h.karpathy_file, split, images_dir="flickr30k-images")

    def _transform(self, train: bool) -> v2.Transform | None:
        if self.hparams.source == "shapes":
            return None
        size = self.hparams.image_size
        # no flips: captions say "left of" / "right of"
        crop = v2.RandomCrop(size) if train else v2.CenterCrop(size)
        return v2.Compose([v2.Resize(round(size * 8 / 7), antialias=True), crop])

    def setup(self, stage: str) -> None:
        # The vocabulary comes from the training captions, whatever the stage: every split encodes with it.
        if self.vocab is None:
            train = self._captions("train")
            self.vocab = Vocabulary.build((c for _, caps in train.captions for c in caps), self.hparams.min_count)
            self._train = self._encoded(train, "train")
        super().setup(stage)

    def _split(self, split: Split) -> Dataset | None:
        h = self.hparams
        if split == "test" and (h.source == "shapes" or (h.source == "coco" and not h.karpathy_file)):
            return None  # no test split of its own: test on the validation split
        return self._encoded(self._captions(split), split)

    def _encoded(self, captions: Dataset, split: Split) -> Encoded:
        train = split == "train"
        return Encoded(captions, self.vocab, self.hparams.max_caption_len, train, self._transform(train))

    def collate_fn(self, ds: Dataset, train: bool) -> Collate:
        return Collate(*self._stats())
