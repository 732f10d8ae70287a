"""One datamodule for the classification family: ShapesWorld, ImageFolder trees and CIFAR.

Batch contract (every source yields it, so a module never knows where its data came from):
``(images, labels)`` with images float32 ``(B, 3, H, W)`` normalised, labels int64 ``(B,)``;
``(B, 1, H, W)`` for the grayscale sources (MNIST, ShapesWorld with ``grayscale``).
With ``ten_crop`` the test loader yields images ``(B, 10, 3, H, W)`` (the AlexNet protocol),
which ``ClassificationModule`` averages.

Image files that cannot be read follow ``bad_images``: "error" raises naming the file, "skip"
drops them at setup and lists them in ``skipped_files`` (``"path: reason"``) for the run's
results. A recipe that keeps the images' size ("none", "flip") on images of another size than
``image_size`` stops at setup with one ``ConfigError`` (``datamodules.image_size``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset
from torchvision.transforms import v2

from contracts.errors import ConfigError, DatasetError
from datamodules.base import FamilyDataModule, Mapped, Split, Stats, rendered_pairs, source_classes
from datamodules.distortions import AffineDistort
from datamodules.image_size import check_image_size
from datamodules.pixels import LeCunNormalize, PixelNormalize
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.views import ShapesClassification
from datamodules.sources.cifar import CIFARSource, cifar_download_help
from datamodules.sources.image_check import BadImagePolicy
from datamodules.sources.imagefolder import ImageFolderSource, imagefolder_layout_help
from datamodules.sources.mnist import MNISTSource, mnist_layout_help, mnist_raw_folder
from datamodules.transforms import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    SIZE_KEEPING_RECIPES,
    Recipe,
    build_transforms,
    ten_crop,
)

Source = Literal["shapes", "imagefolder", "cifar10", "cifar100", "mnist"]
Normalize = Literal["dataset", "lecun"]
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, PIL's convert("L")
GRAY_SHAPES_STATS = ((0.5,), (0.25,))


class _BatchFlipNormalize:
    """Collate for uint8 sources with the "none"/"flip"/"lenet" recipes: one vectorised op per batch.

    Per-sample transforms cost ~0.25 ms an image on this CPU, about 12 % of an AlexNet-demo
    step in the main process; on the whole batch they cost ~2 %.
    """

    def __init__(self, flip: bool, mean, std, gray: bool = False, distort: AffineDistort | None = None,
                 lecun: bool = False) -> None:
        self.flip, self.gray, self.distort = flip, gray, distort
        self.normalize = LeCunNormalize() if lecun else PixelNormalize(mean, std)

    def __call__(self, samples):
        images = torch.stack([torch.as_tensor(img) for img, _ in samples]).float()  # (B, 3, H, W)
        labels = torch.tensor([int(label) for _, label in samples], dtype=torch.long)
        if self.flip:
            mask = torch.rand(len(images)) < 0.5
            images = torch.where(mask.view(-1, 1, 1, 1), images.flip(3), images)
        if self.gray and images.shape[1] == 3:  # (B, 3, H, W) -> (B, 1, H, W)
            images = (images * torch.tensor(_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)
        if self.distort is not None:  # LeNet-5's random affine warps, one per image, on the 0-255 floats
            images = self.distort(images)  # after luma: both are linear, so the same image at 1/3 the cost
        return self.normalize(images), labels


class Cycled(Dataset):
    """``size`` samples that cycle through ``base`` (sample i is ``base[i mod len(base)]``); never
    fewer than ``base`` holds, so a split larger than ``size`` is still seen whole every epoch."""

    def __init__(self, base: Dataset, size: int) -> None:
        self.base, self.size = base, max(size, len(base))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int):
        return self.base[i % len(self.base)]  # type: ignore[arg-type]


class _TenCrop:
    """Eval transform for 10-crop testing: the normalised resized image -> (10, 3, s, s)."""

    def __init__(self, base, size: int) -> None:
        self.base, self.size = base, size

    def __call__(self, image):
        return ten_crop(self.base(image).unsqueeze(0), self.size)[:, 0]  # (10, 1, ...) -> (10, 3, s, s)


class ClassificationDataModule(FamilyDataModule):
    """Images and class labels from ShapesWorld, an ImageNet-layout folder or CIFAR batches.

    Args:
        source: "shapes" (embedded, generated), "imagefolder" (``root/train``, ``root/val``),
            "cifar10" / "cifar100" (official python batches under ``root``), "mnist" (raw idx
            files, ``datamodules.sources.mnist``; 1 channel, padded to ``image_size``).
        root: dataset folder for the on-disk sources.
        image_size: network input side.
        augment: training augmentation recipe (``datamodules.transforms``): "alexnet" (crop,
            flip, PCA lighting), "vgg" (scale jitter), "vit", "cifar", "lenet" (LeNet-5's affine
            distortions), "flip", "none".
        batch_size: per-process batch size.
        eval_batch_size: per-process batch size for val/test (defaults to ``batch_size``).
        num_workers: loader processes; -1 picks one per spare core (0 for cached ShapesWorld,
            where a batch is a tensor index and worker IPC would cost more than it saves).
        val_split: folder name of the evaluation split for "imagefolder".
        ten_crop: test on 10 crops per image (AlexNet protocol).
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld training samples.
        val_size: ShapesWorld validation (and test) samples.
        cache: render ShapesWorld once into memory at setup instead of in every epoch.
        bad_images: unreadable image files of "imagefolder": "error" (a ``DatasetError`` naming
            the file when it is read) or "skip" (each file verified once at setup, bad ones
            dropped, logged once and listed in ``skipped_files``).
        grayscale: serve ShapesWorld as 1-channel luma images ``(B, 1, H, W)`` (LeNet-5's input);
            with the "none"/"flip"/"lenet" recipes only.
        epoch_size: training samples per epoch, cycling through a smaller training split (so that
            runs on 50 or 5000 labels take the same steps, the transfer-by-size study); a larger
            split is still one pass; None: one pass.
        normalize: "dataset" (each channel by the dataset's mean and std) or "lecun" (LeNet-5's
            Sec. III.A, per image: background -> -0.1, object -> 1.175 whatever the polarity;
            ``datamodules.pixels.LeCunNormalize``); "lecun" with the "none"/"flip"/"lenet" recipes on
            "shapes" or "mnist" only.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
                                               "mnist": "MNIST"}
    source_stats: ClassVar[dict[str, Stats]] = {"cifar10": (CIFAR10_MEAN, CIFAR10_STD), "cifar100": (CIFAR10_MEAN, CIFAR10_STD),
                                                "mnist": ((0.1307,), (0.3081,))}

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        image_size: int = 64,
        augment: Recipe = "flip",
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        val_split: str = "val",
        ten_crop: bool = False,
        world: WorldConfig = WorldConfig(),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 8000,
        val_size: PositiveInt = 1000,
        cache: bool = True,
        bad_images: BadImagePolicy = "error",
        grayscale: bool = False,
        epoch_size: PositiveInt | None = None,
        normalize: Normalize = "dataset",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        if grayscale and not (source == "shapes" and augment in SIZE_KEEPING_RECIPES):
            raise ConfigError(f"data.init_args.grayscale=true needs source 'shapes' with augment 'none', 'flip' or 'lenet' "
                              f"(got source={source!r}, augment={augment!r}; 'mnist' is grayscale already)")
        if normalize == "lecun" and not (source in ("shapes", "mnist") and augment in SIZE_KEEPING_RECIPES):
            raise ConfigError(f"data.init_args.normalize='lecun' needs source 'shapes' or 'mnist' with augment 'none', "
                              f"'flip' or 'lenet' (got source={source!r}, augment={augment!r})")
        self.check_data(source, root)
        self.num_classes: int | None = len(self.world.kinds) if source == "shapes" else None

    @classmethod
    def _check_source(cls, source: str, root: str | None, **_: object) -> None:
        """Fail before any model is built when an on-disk dataset is not there."""
        if source == "mnist":
            if not root or mnist_raw_folder(root) is None:
                raise DatasetError(f"data.init_args.root={root!r} holds no MNIST idx files.\n"
                                   f"{mnist_layout_help(Path(root or 'data'))}")
        elif source == "imagefolder":
            path = Path(root or "")
            if not root or not (path / "train").is_dir():
                raise DatasetError(f"data.init_args.root={root!r} has no train/ folder.\n{imagefolder_layout_help(path)}")
        else:
            variant = 10 if source == "cifar10" else 100
            name = "cifar-10-batches-py" if variant == 10 else "cifar-100-python"
            path = Path(root or "")
            if not root or not (path.is_dir() and (path.name == name or (path / name).is_dir())):
                raise DatasetError(f"data.init_args.root={root!r} holds no {name}/. {cifar_download_help(path / name, variant)}")

    @property
    def class_names(self) -> list[str] | None:
        """Names for media and reports: ShapesWorld kinds, or the class folders / dataset classes."""
        if self.hparams.source == "shapes":
            return list(self.world.kinds)
        return source_classes(self._train, self._val)

    def object_masks(self, indices: list[int]) -> torch.Tensor:
        """Masks of the labelled objects of validation samples ``indices``, bool ``(N, H, W)``.

        Only ShapesWorld knows them; an on-disk source raises ``ConfigError``.
        """
        h = self.hparams
        if h.source != "shapes":
            raise ConfigError(f"data.init_args.source={h.source!r} has no object masks (only 'shapes' has)")
        view = ShapesClassification("val", h.val_size, self.world)
        return torch.stack([view.object_mask(i) for i in indices])

    @property
    def _batched(self) -> bool:
        # ShapesWorld is rendered at the input size: flip + normalise run on whole batches.
        return self.hparams.source in ("shapes", "mnist") and self.hparams.augment in SIZE_KEEPING_RECIPES

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        if h.source == "shapes":
            view = ShapesClassification("train" if train else "val", h.train_size if train else h.val_size,
                                        self.world)
            return rendered_pairs(view) if h.cache else view
        if h.source == "mnist":  # the paper's 32x32 field: 28x28 digits padded (2 px each side)
            return MNISTSource(h.root, "train" if train else "test", pad=max(0, (h.image_size - 28) // 2))
        if h.source == "imagefolder":
            return ImageFolderSource(h.root, "train" if train else h.val_split, bad_images=h.bad_images)
        return CIFARSource(h.root, "train" if train else "test", 10 if h.source == "cifar10" else 100)

    def _split(self, split: Split) -> Dataset | None:
        h = self.hparams
        mean, std = self._stats()
        if split == "test":
            if not h.ten_crop:
                return self._val
            # 10-crop testing: resize the short side to 256/224 of the input, crop 10 views.
            raw = getattr(self._val, "base", self._val)
            return Mapped(raw, _TenCrop(_resize_normalize(h.image_size, mean, std), h.image_size), on="image")
        train = split == "train"
        raw = self._raw(train)
        if h.source != "shapes" and h.augment in SIZE_KEEPING_RECIPES:  # ShapesWorld renders at image_size
            check_image_size(raw, h.image_size, h.augment)
        self.num_classes = _num_classes(raw) if train else self.num_classes or _num_classes(raw)
        ds = raw if self._batched else Mapped(raw, build_transforms(h.augment, h.image_size, train, mean, std), on="image")
        return Cycled(ds, h.epoch_size) if train and h.epoch_size else ds

    def collate_fn(self, ds: Dataset, train: bool) -> _BatchFlipNormalize | None:
        h = self.hparams
        if not self._batched or (h.ten_crop and ds is self._test):  # 10-crop batches are float already
            return None
        mean, std = self._stats()
        distort = AffineDistort() if train and h.augment == "lenet" else None
        return _BatchFlipNormalize(train and h.augment == "flip", mean, std, gray=h.grayscale, distort=distort,
                                   lecun=h.normalize == "lecun")

    def _stats(self):
        return GRAY_SHAPES_STATS if self.hparams.grayscale else super()._stats()

    def _in_memory(self) -> bool:
        return self.hparams.source == "mnist" or (self.hparams.source == "shapes" and self.hparams.cache)


def _resize_normalize(image_size: int, mean, std) -> v2.Compose:
    return v2.Compose([
        v2.ToImage(), v2.Resize(round(image_size * 256 / 224)), v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std), v2.ToPureTensor(),
    ])


def _num_classes(ds: Dataset) -> int:
    return int(ds.num_classes)  # type: ignore[attr-defined]
