"""Data for contrastive self-supervision: two augmented views for training, labelled bank + eval.

Batch contract (every source yields it; ``lit_modules.ssl.SSLModule`` reads it):

- train: ``(views, labels)``: ``views`` float32 ``(B, 2, 3, S, S)``, two independently
  augmented, normalised views of each image (like the K-crop batches of the classification
  family), and ``labels`` int64 ``(B,)``, -1 for images without a label (STL-10's
  unlabeled split). Labels reach only the detached online probe, never the encoder.
- val / test: two loaders of ``(images, labels)``, float32 ``(B, 3, S, S)`` un-augmented:
  index 0 the *bank* (the first ``bank_size`` labelled training images, for the kNN monitor),
  index 1 the evaluation split (ShapesWorld val, CIFAR-10 test, STL-10 test, ``root/<val_split>``).

Sources: ``shapes`` (ShapesWorld ``ShapesUnlabeled`` scenes; the dominant object's kind is held
out for evaluation), ``imagefolder`` (``root/train``, ``root/<val_split>``), ``cifar10`` (python
batches) and ``stl10`` (binary layout; pre-training on unlabeled + train, 105,000 images).
In-memory sources of one image size are augmented a whole batch at a time
(``ssl_augment.BatchTwoViews``); image folders per sample with ``transforms.v2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from jsonargparse.typing import PositiveInt
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset
from torchvision.transforms import v2

from contracts.batches import check_two_views
from contracts.errors import ConfigError, DatasetError
from datamodules.base import FamilyDataModule, Stats, rendered_pairs
from datamodules.classification import ClassificationDataModule
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.views import ShapesUnlabeled
from datamodules.sources.cifar import CIFARSource
from datamodules.sources.imagefolder import ImageFolderSource, imagefolder_layout_help
from datamodules.sources.stl10 import STL10Source, stl10_folder, stl10_help
from datamodules.ssl_augment import BatchTwoViews, two_view_pipeline
from datamodules.transforms import CIFAR10_MEAN, CIFAR10_STD

Source = Literal["shapes", "imagefolder", "cifar10", "stl10"]


class _TwoViewCollate:
    """uint8 ``(image, label)`` samples -> ``(views (B, 2, 3, S, S), labels)``, one batched augmentation."""

    def __init__(self, views) -> None:
        self.views = views

    def __call__(self, samples):
        images = torch.stack([torch.as_tensor(img) for img, _ in samples])  # (B, 3, H, W) uint8
        labels = torch.tensor([int(y) for _, y in samples], dtype=torch.long)
        return check_two_views(self.views(images), "SSLDataModule view transform"), labels


class _EvalCollate:
    """uint8 samples -> normalised float ``(B, 3, S, S)`` (resized when the source differs)."""

    def __init__(self, size: int, mean, std) -> None:
        self.size = size
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)

    def __call__(self, samples):
        x = torch.stack([torch.as_tensor(img) for img, _ in samples]).float() / 255  # (B, 3, H, W)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        return (x - self.mean) / self.std, torch.tensor([int(y) for _, y in samples], dtype=torch.long)


class SSLDataModule(FamilyDataModule):
    """Two-view training data plus labelled bank and evaluation loaders (see the module docstring).

    Args:
        source: "shapes", "imagefolder", "cifar10" or "stl10".
        root: dataset folder for the on-disk sources.
        image_size: side of the views (the crop's output).
        batch_size: images per process and step (each gives two views); at least 2.
        eval_batch_size: per-process batch of the bank and evaluation loaders.
        num_workers: loader processes; -1: 0 for cached ShapesWorld, else one per spare core.
        val_split: evaluation folder of "imagefolder".
        min_scale: smallest crop area fraction (0.08 SimCLR, 0.2 MoCo v2's code).
        jitter: colour jitter strength of brightness/contrast/saturation (SimCLR 0.8 s, MoCo v2 0.4).
        hue: hue jitter (SimCLR 0.2 s, MoCo v2 0.1).
        gray_p: probability of grayscale.
        blur_p: probability of Gaussian blur (0.5; SimCLR turns it off on CIFAR-10).
        bank_size: labelled training images in the kNN bank.
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld pre-training images.
        val_size: ShapesWorld evaluation images.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "cifar10": "CIFAR-10", "stl10": "STL-10"}
    source_stats: ClassVar[dict[str, Stats]] = {"cifar10": (CIFAR10_MEAN, CIFAR10_STD)}

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        image_size: int = 64,
        batch_size: int = 256,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        val_split: str = "val",
        min_scale: float = 0.08,
        jitter: float = 0.4,
        hue: float = 0.1,
        gray_p: float = 0.2,
        blur_p: float = 0.5,
        bank_size: PositiveInt = 5000,
        world: WorldConfig = WorldConfig(),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 20000,
        val_size: PositiveInt = 1000,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        if batch_size < 2:
            raise ConfigError(f"data.init_args.batch_size={batch_size}: a contrastive batch needs at least 2 "
                              "images, the other images are the negatives")
        self.check_data(source, root)
        self.num_classes: int | None = len(self.world.kinds) if source == "shapes" else (
            None if source == "imagefolder" else 10)

    @classmethod
    def _check_source(cls, source: str, root: str | None, **_: object) -> None:
        if source == "stl10":
            folder = stl10_folder(root or "")
            if not root or not (folder / "train_X.bin").is_file():
                raise DatasetError(f"data.init_args.root={root!r} holds no STL-10 binaries. {stl10_help(folder)}")
        elif source == "imagefolder" and (not root or not (Path(root) / "train").is_dir()):
            raise DatasetError(f"data.init_args.root={root!r} has no train/ folder.\n{imagefolder_layout_help(Path(root or ''))}")
        elif source == "cifar10":
            ClassificationDataModule.check_data("cifar10", root)

    def setup(self, stage: str) -> None:
        if self._train is not None:
            return
        h = self.hparams
        mean, std = self._stats()
        aug = {"min_scale": h.min_scale, "jitter": h.jitter, "hue": h.hue, "gray_p": h.gray_p, "blur_p": h.blur_p}
        self._collate_train = self._collate_eval = None
        if h.source == "imagefolder":
            s = h.image_size
            eval_tf = v2.Compose([v2.ToImage(), v2.Resize(round(s * 256 / 224)), v2.CenterCrop(s),
                                  v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std)),
                                  v2.ToPureTensor()])
            self._train = ImageFolderSource(h.root, "train", transform=two_view_pipeline(s, mean, std, **aug))
            bank = ImageFolderSource(h.root, "train", transform=eval_tf)
            self._val = ImageFolderSource(h.root, h.val_split, transform=eval_tf)
            self.num_classes = bank.num_classes
        else:
            self._collate_train = _TwoViewCollate(BatchTwoViews(h.image_size, mean, std, **aug))
            self._collate_eval = _EvalCollate(h.image_size, mean, std)
            if h.source == "shapes":
                bank = rendered_pairs(ShapesUnlabeled("train", h.train_size, self.world))
                self._train = bank
                self._val = rendered_pairs(ShapesUnlabeled("val", h.val_size, self.world))
            elif h.source == "cifar10":
                bank = self._train = CIFARSource(h.root, "train", 10)
                self._val = CIFARSource(h.root, "test", 10)
            else:  # stl10: pre-train on unlabeled + train, bank from train, evaluate on test
                bank = STL10Source(h.root, "train")
                self._train = ConcatDataset([STL10Source(h.root, "unlabeled"), bank])
                self._val = STL10Source(h.root, "test")
        self._bank = Subset(bank, range(min(h.bank_size, len(bank))))

    @property
    def class_names(self) -> list[str] | None:
        """ShapesWorld kinds (the held-out labels of the probe and kNN); None for on-disk sources."""
        return list(self.world.kinds) if self.hparams.source == "shapes" else None

    def object_masks(self, indices: list[int]) -> torch.Tensor:
        """Masks of the labelled objects of evaluation samples ``indices``, bool ``(N, H, W)``."""
        h = self.hparams
        if h.source != "shapes":
            raise ConfigError(f"data.init_args.source={h.source!r} has no object masks (only 'shapes' has)")
        view = ShapesUnlabeled("val", h.val_size, self.world)
        return torch.stack([view.object_mask(i) for i in indices])

    def collate_fn(self, ds: Dataset, train: bool) -> _TwoViewCollate | _EvalCollate | None:
        return self._collate_train if train else self._collate_eval

    def val_dataloader(self) -> list[DataLoader]:
        return [self._loader(self._bank, False), self._loader(self._val, False)]

    def test_dataloader(self) -> list[DataLoader]:
        return self.val_dataloader()


