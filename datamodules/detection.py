"""One datamodule for detection and instance segmentation: ShapesWorld, COCO json and PASCAL VOC.

Batch contract (every source yields it, so a module never knows where its data came from):
``(images, targets)`` where

* ``images``: ``list[Tensor]`` of float32 ``(3, H, W)`` in ``[0, 1]``, not normalised (the
  detectors normalise inside, as torchvision's do); sizes may differ unless ``resize="square"``.
* ``targets``: ``list[dict]``, one per image, with ``boxes`` float32 ``(N, 4)`` xyxy pixels of
  that image, ``labels`` int64 ``(N,)`` in ``1..K`` (0 is background), ``masks`` uint8
  ``(N, H, W)`` when ``masks=True``, and in val/test ``iscrowd`` uint8 ``(N,)``: 1 marks
  regions the metric ignores (COCO ``iscrowd``, VOC ``difficult``). Training targets never
  hold ignored objects (they are dropped, the papers' recipe), so every training box is a
  positive.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from contracts.errors import DatasetError
from datamodules.albu import AlbuDetection, AlbuSpec, Chain
from datamodules.base import FamilyDataModule
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.views import ShapesDetection
from datamodules.sources.boxes import BadBoxPolicy
from datamodules.sources.coco import COCODetection, coco_layout_help
from datamodules.sources.image_check import BadImagePolicy
from datamodules.sources.voc import VOCDetection, voc_layout_help
from datamodules.ssd_augment import SSDAugment

Source = Literal["shapes", "coco", "voc"]
_SPLITS = {"coco": ("train2017", "val2017"), "voc": ("trainval", "test"), "shapes": ("train", "val")}


def collate(samples: list[tuple[torch.Tensor, dict]]) -> tuple[list[torch.Tensor], list[dict]]:
    """Images and targets stay lists: sizes and object counts differ between images."""
    return [s[0] for s in samples], [s[1] for s in samples]


class DetectionTransform:
    """uint8 image + target -> float image + target, boxes and masks moved with the pixels.

    Uses torchvision transforms v2 on tv_tensors (``BoundingBoxes``, ``Mask``), so a flip or a
    resize changes the boxes and masks exactly as it changes the image.

    Args:
        train: apply the augmentation and drop ignored objects (crowd / difficult).
        augment: "flip" (horizontal flip, p=0.5) or "none".
        size: side of the square resize, or None to keep the image size.
        use_difficult: keep VOC difficult objects in training targets.
    """

    def __init__(self, train: bool, augment: Literal["none", "flip"], size: int | None,
                 use_difficult: bool = False) -> None:
        ops: list[Any] = [v2.RandomHorizontalFlip(0.5)] if train and augment == "flip" else []
        if size is not None:
            ops.append(v2.Resize((size, size), antialias=True))
        self.ops = v2.Compose(ops) if ops else None
        self.train, self.use_difficult = train, use_difficult

    def __call__(self, image: torch.Tensor, target: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        h, w = image.shape[-2:]
        t = dict(target)
        ignore = t.pop("iscrowd", None)
        difficult = t.pop("difficult", None)
        if difficult is not None and not (self.train and self.use_difficult):
            ignore = difficult if ignore is None else ignore | difficult
        if self.ops is not None:
            t["boxes"] = tv_tensors.BoundingBoxes(t["boxes"], format="XYXY", canvas_size=(h, w))
            if "masks" in t:
                t["masks"] = tv_tensors.Mask(t["masks"])
            image, t = self.ops(tv_tensors.Image(image), t)
        if ignore is not None:
            if self.train:  # the papers train on non-crowd, non-difficult objects only
                keep = ignore == 0
                t = {k: v[keep] if isinstance(v, torch.Tensor) and v.shape[:1] == keep.shape and k != "proposals"
                     else v for k, v in t.items()}  # per-object fields only (R-CNN's proposals ride along)
            else:
                t["iscrowd"] = ignore
        t = {k: v.as_subclass(torch.Tensor) if isinstance(v, torch.Tensor) else v for k, v in t.items()}
        return image.as_subclass(torch.Tensor).float().div_(255), t


class DetectionDataModule(FamilyDataModule):
    """Images with boxes, labels and instance masks from ShapesWorld, COCO or PASCAL VOC.

    Args:
        source: "shapes" (embedded, generated), "coco" (instances json), "voc" (XML).
        root: dataset folder; for "voc" a year folder or a list of them (VOC 07+12 training).
        val_root: "voc" evaluation year folder (default: the first ``root``).
        train_split: split name (default: coco ``train2017``, voc ``trainval``).
        val_split: split name (default: coco ``val2017``, voc ``test``).
        image_size: side of the square input for ``resize="square"`` (and ShapesWorld's side).
        resize: "square" (every image to ``image_size``², YOLO) or "none" (R-CNNs resize inside).
        augment: "flip", "none" or "ssd" (SSD's photometric distortion, zoom-out, min-IoU crop and
            flip: ``datamodules.ssd_augment``), training only.
        albumentations: a box/mask-aware albumentations pipeline for training images, run before
            ``augment``: a named recipe ("yolo": YOLO v1's scale/translate and exposure/saturation
            jitter) or a list of transforms in albumentations' serialised form (``datamodules.albu``).
        masks: load instance masks (Mask R-CNN).
        use_difficult: keep VOC difficult objects in training targets (default: dropped).
        bad_boxes: zero-area / out-of-image boxes: "skip" (counted, logged) or "error".
        bad_images: unreadable image files: "error" (a ``DatasetError`` naming the file when read)
            or "skip" (every file verified at setup, the bad ones dropped, logged and listed in
            ``results.json``).
        categories: COCO category ids in label order (default: all in the file).
        batch_size: images per step.
        eval_batch_size: images per val/test step (default ``batch_size``).
        num_workers: loader processes; -1: 0 for ShapesWorld (rendering is ~1 ms an image, and
            cached after the first epoch), one per spare core otherwise.
        cache: keep each rendered ShapesWorld scene in memory after its first use (scenes are
            fixed by the seed, so this changes nothing but speed; ~28 kB an image at 96 px).
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        train_size: ShapesWorld training samples.
        val_size: ShapesWorld validation (and test) samples.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "coco": "COCO", "voc": "PASCAL VOC"}

    def __init__(
        self,
        source: Source = "shapes",
        root: str | list[str] | None = None,
        val_root: str | None = None,
        train_split: str | None = None,
        val_split: str | None = None,
        image_size: int = 96,
        resize: Literal["square", "none"] = "square",
        augment: Literal["none", "flip", "ssd"] = "flip",
        albumentations: AlbuSpec | None = None,
        masks: bool = False,
        use_difficult: bool = False,
        bad_boxes: BadBoxPolicy = "skip",
        bad_images: BadImagePolicy = "error",
        categories: list[int] | None = None,
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        cache: bool = True,
        world: WorldConfig = WorldConfig(),  # noqa: B008 (frozen dataclass: a safe default)
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world, image_size if source == "shapes" else None)
        self.check_data(source, root, train_split=train_split)
        self.num_classes: int | None = {"shapes": len(self.world.kinds), "voc": 20}.get(source)
        if source == "coco" and categories is not None:
            self.num_classes = len(categories)

    @classmethod
    def _check_source(cls, source: str, root: str | list[str] | None, train_split: str | None = None,
                      **_: object) -> None:
        split = train_split or _SPLITS[source][0]
        roots = [Path(r) for r in ([root] if isinstance(root, str) else (root or [""]))]
        for r in roots:
            if source == "coco" and not (r / "annotations" / f"instances_{split}.json").is_file():
                raise DatasetError(f"data.init_args.root={str(r)!r} holds no annotations/instances_{split}.json.\n"
                                   + coco_layout_help(r, split))
            if source == "voc" and not (r / "ImageSets" / "Main" / f"{split}.txt").is_file():
                raise DatasetError(f"data.init_args.root={str(r)!r} holds no ImageSets/Main/{split}.txt.\n"
                                   + voc_layout_help(r))

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        split = (h.train_split if train else h.val_split) or _SPLITS[h.source][0 if train else 1]
        if h.source == "shapes":
            view = ShapesDetection(split, h.train_size if train else h.val_size, self.world)  # type: ignore[arg-type]
            return _ShapesScenes(view, h.masks, h.cache)
        if h.source == "coco":
            ds = COCODetection(h.root, split, masks=h.masks, categories=h.categories, bad_boxes=h.bad_boxes,
                             bad_images=h.bad_images)
        else:
            roots = h.root if train else (h.val_root or ([h.root] if isinstance(h.root, str) else h.root)[0])
            ds = VOCDetection(roots, split, bad_boxes=h.bad_boxes, bad_images=h.bad_images)
        self.num_classes = ds.num_classes
        return ds

    def _transform(self, train: bool) -> DetectionTransform | Chain:
        h = self.hparams
        size = h.image_size if h.resize == "square" and h.source != "shapes" else None
        augment = h.augment if train and h.augment != "ssd" else "none"
        last = DetectionTransform(train, augment, size, train and h.use_difficult)
        before = [AlbuDetection(h.albumentations)] if train and h.albumentations else []
        before += [SSDAugment(self._stats()[0])] if train and h.augment == "ssd" else []
        return Chain(*before, last) if before else last

    def collate_fn(self, ds: Dataset, train: bool) -> Callable[[list], Any]:
        return collate


class _ShapesScenes(Dataset):
    """ShapesWorld scenes, rendered once each and then served from memory (the seed fixes them).

    ShapesWorld always renders instance masks; box-only detectors drop them here, before they
    are cached or moved through the augmentation.
    """

    def __init__(self, base: Dataset, masks: bool, cache: bool) -> None:
        self.base, self.masks, self.cache = base, masks, cache
        self._items: dict[int, tuple[torch.Tensor, dict]] = {}

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict]:
        item = self._items.get(i)
        if item is None:
            image, target = self.base[i]
            item = (image, target if self.masks else {k: v for k, v in target.items() if k != "masks"})
            if self.cache:
                self._items[i] = item  # the transforms copy before they change anything
        return item
