"""One datamodule for image generation (GANs): ShapesWorld single shapes, any image folder, CIFAR, MNIST.

Batch contract (every source yields it): ``(images, labels)`` with images float32 (B, 3, S, S)
scaled to [-1, 1] (the generator's tanh range) and labels int64 (B,) — the class, or -1 where
the data has none (a flat image folder). ``image_size`` and ``num_classes`` are attributes the
GAN module checks its generator against at setup.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.base import FamilyDataModule, rendered_pairs, source_classes
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.views import ShapesClassification
from datamodules.sources.cifar import CIFARSource, cifar_download_help
from datamodules.sources.image_collection import ImageCollection, collection_help
from datamodules.sources.mnist import MNISTSource, mnist_layout_help, mnist_raw_folder

Source = Literal["shapes", "imagefolder", "cifar10", "cifar100", "mnist"]


class _ToUnitRange:
    """Collate: stack uint8 images, optional batch flip, resize if needed, scale to [-1, 1]."""

    def __init__(self, flip: bool, size: int) -> None:
        self.flip, self.size = flip, size

    def __call__(self, samples: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([torch.as_tensor(im) for im, _ in samples]).float()  # (B, 3, H, W) in 0..255
        labels = torch.tensor([int(y) for _, y in samples], dtype=torch.long)
        images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images  # MNIST: grey in R, G, B
        if images.shape[-1] != self.size or images.shape[-2] != self.size:  # CIFAR at another size
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False,
                                   antialias=True)
        if self.flip:
            mask = torch.rand(len(images)) < 0.5
            images = torch.where(mask.view(-1, 1, 1, 1), images.flip(3), images)
        return (images / 127.5 - 1).clamp_(-1, 1), labels




class GenerationDataModule(FamilyDataModule):
    """Images (and their classes, where there are any) for GAN training and FID evaluation.

    Args:
        source: "shapes" (one ShapesWorld object per image; classes = kinds), "imagefolder"
            (flat or class folders under ``root``), "cifar10" / "cifar100" (python batches), "mnist"
            (raw idx files; grey digits padded to 32 px and served as 3 equal channels; val = test split).
        root: dataset folder for the on-disk sources.
        image_size: side of the images served (must equal the generator's); on-disk images are
            resized and centre-cropped to it, ShapesWorld renders at ``world.image_size``.
        flip: random horizontal flips in training.
        batch_size: per-process batch size (papers: 64).
        eval_batch_size: validation batch size (default ``batch_size``).
        num_workers: loader processes; -1: 0 for in-memory data, else one per spare core.
        holdout: image folders without both ``train/`` and ``val/``: every ``holdout``-th image is validation.
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld training images.
        val_size: ShapesWorld validation images (the FID reference set).
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "cifar10": "CIFAR-10",
                                               "cifar100": "CIFAR-100", "mnist": "MNIST"}
    shapes_description: ClassVar[str] = "ShapesWorld {image_size} px"

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        image_size: int = 32,
        flip: bool = False,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        holdout: int = 20,
        world: WorldConfig = WorldConfig(image_size=32),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        self.check_data(source, root)
        self.image_size = image_size
        self.num_classes: int | None = {"shapes": len(self.world.kinds), "cifar10": 10, "cifar100": 100,
                                                "mnist": 10}.get(source)

    @classmethod
    def _check_source(cls, source: str, root: str | None, **_: object) -> None:
        path = Path(root or "")
        if source == "mnist":
            if not root or mnist_raw_folder(root) is None:
                raise DatasetError(f"data.init_args.root={root!r} holds no MNIST idx files.\n{mnist_layout_help(path)}")
            return
        if source == "imagefolder":
            if not root or not path.is_dir():
                raise DatasetError(f"data.init_args.root={root!r} is not a folder.\n{collection_help(path)}")
            return
        name = "cifar-10-batches-py" if source == "cifar10" else "cifar-100-python"
        if not root or not (path.is_dir() and (path.name == name or (path / name).is_dir())):
            raise DatasetError(f"data.init_args.root={root!r} holds no {name}/. "
                               f"{cifar_download_help(path / name, 10 if source == 'cifar10' else 100)}")

    @property
    def class_names(self) -> list[str] | None:
        if self.hparams.source == "shapes":
            return list(self.world.kinds)
        return source_classes(self._train, self._val)

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        if h.source == "shapes":
            return rendered_pairs(ShapesClassification("train" if train else "val", h.train_size if train else h.val_size,
                                                self.world))
        if h.source == "imagefolder":
            ds = ImageCollection(h.root, "train" if train else "val", h.image_size, h.holdout)
            self.num_classes = ds.num_classes or None  # flat folder: unlabelled
            return ds
        if h.source == "mnist":
            return MNISTSource(h.root, "train" if train else "test", pad=2)  # 28 -> 32 px, digit centred
        return CIFARSource(h.root, "train" if train else "test", 10 if h.source == "cifar10" else 100)

    def collate_fn(self, ds: Dataset, train: bool) -> _ToUnitRange:
        return _ToUnitRange(train and self.hparams.flip, self.hparams.image_size)

    def _in_memory(self) -> bool:
        return self.hparams.source != "imagefolder"  # ShapesWorld cache and CIFAR arrays
