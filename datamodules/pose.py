"""One datamodule for single-person pose: ShapesWorld stick figures, COCO keypoints, MPII.

Batch contract (every source yields it; top-down crops, one person per sample):
``(images, keypoints, pck_norm, head_size)`` with images float32 ``(B, 3, S, S)`` normalised,
keypoints float32 ``(B, K, 3)`` as (x, y, visibility) in input pixels (pixel i spans
[i, i + 1); visibility 0 unlabelled or outside the crop, 1 labelled but hidden, 2 visible),
pck_norm ``(B,)`` the person box's longer side (or, with ``normaliser="torso"``, the left
shoulder - right hip distance) and head_size ``(B,)`` the head segment size (0 when unknown:
not counted), both in input pixels: the PCK@alpha and PCKh normalisers.

Heatmaps are not part of the batch: the module builds them from the keypoints on its device
(``lit_modules.ops.heatmaps``), because their size and sigma belong to the network (its
output stride), so the data stays model-agnostic and the loader moves K x 3 numbers per person
instead of K maps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset

from contracts.errors import DatasetError
from datamodules.albu import AlbuPose
from datamodules.base import FamilyDataModule, Mapped, Split
from datamodules.pixels import PixelNormalize
from datamodules.pose_crops import TopDownCrops
from datamodules.shapes.pose import ShapesPose
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.store import render_columns
from datamodules.sources.coco_keypoints import COCOKeypoints, coco_keypoints_help
from datamodules.sources.keypoints import BadKeypointPolicy, Person
from datamodules.sources.mpii import MPIIPose, mpii_help

Source = Literal["shapes", "coco", "mpii"]


class ShapesPoseSource(Dataset):
    """ShapesWorld stick figures rendered once into memory: one item per figure, ``(image, Person)``."""

    def __init__(self, view: ShapesPose) -> None:
        self.joint_names, self.flip_pairs, self.skeleton = view.joint_names, view.flip_pairs, view.skeleton
        self.torso = (2, 9)  # left shoulder, right hip
        self.images, targets = render_columns(view)  # (N, 3, H, W) uint8, N target dicts
        self.items = [(i, Person(kps, box)) for i, target in enumerate(targets)
                      for kps, box in zip(target["keypoints"].numpy(), target["boxes"].numpy(), strict=True)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Person]:
        i, person = self.items[index]
        return self.images[i], person


class _Collate:
    """Stack crops, normalise the whole batch in one op, and stack keypoints and normalisers."""

    def __init__(self, mean, std) -> None:
        self.normalize = PixelNormalize(mean, std)

    def __call__(self, samples):
        images = torch.stack([s[0] for s in samples]).float()  # (B, 3, S, S)
        keypoints = torch.stack([s[1] for s in samples])  # (B, K, 3)
        norm = torch.tensor([s[2] for s in samples], dtype=torch.float32)  # (B,)
        head = torch.tensor([s[3] for s in samples], dtype=torch.float32)  # (B,)
        return self.normalize(images), keypoints, norm, head


class PoseDataModule(FamilyDataModule):
    """Top-down person crops and keypoints from ShapesWorld, COCO keypoints or MPII.

    Args:
        source: "shapes" (embedded stick figures, 14 joints), "coco" (17 joints,
            ``root/annotations/person_keypoints_<split>.json``), "mpii" (16 joints, ``root/annot/*.json``).
        root: dataset folder for the on-disk sources.
        input_size: crop side S fed to the network (paper: 256).
        padding: crop side over the person box's longer side (1.25 as ``pose-hg-train``).
        flip: mirror half of the training crops (left/right joints swapped).
        rotation: training rotation range in degrees, +-rotation (paper: 30).
        scale: training scale jitter, 1 +- scale (paper: 0.25).
        albumentations: a keypoint-aware albumentations pipeline for the training crops, a list of
            transforms in albumentations' serialised form (``datamodules.albu.AlbuPose``: no flips,
            those are ``flip``'s).
        batch_size: per-process batch size.
        eval_batch_size: val/test batch size (defaults to ``batch_size``).
        num_workers: loader processes; -1: 0 for in-memory ShapesWorld, else one per spare core.
        train_split: on-disk training split (COCO: train2017, MPII: train).
        val_split: on-disk validation split (COCO: val2017, MPII: valid).
        bad_keypoints: "skip" (count, mark unlabelled) or "error" for labelled keypoints off the image.
        normaliser: PCK@alpha's reference length: the person "box"'s longer side or the "torso"
            (left shoulder - right hip distance, as the FLIC/LSP PCK).
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        max_people: ShapesWorld figures per image (1..max_people); each is cropped on its own.
        figure_scale: ShapesWorld figure height as a fraction of the image side.
        train_size: ShapesWorld training images.
        val_size: ShapesWorld validation (and test) images.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld figures", "coco": "COCO keypoints",
                                               "mpii": "MPII"}
    shapes_description: ClassVar[str] = "ShapesWorld stick figures"

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        input_size: int = 64,
        padding: float = 1.25,
        flip: bool = True,
        rotation: float = 0.0,
        scale: float = 0.0,
        albumentations: list[dict[str, Any]] | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        train_split: str | None = None,
        val_split: str | None = None,
        bad_keypoints: BadKeypointPolicy = "skip",
        normaliser: Literal["box", "torso"] = "box",
        world: WorldConfig = WorldConfig(image_size=64),  # noqa: B008 (frozen dataclass)
        max_people: int = 1,
        figure_scale: tuple[float, float] = (0.55, 0.95),
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.world = as_world(world)
        self.check_data(source, root, train_split=train_split, val_split=val_split)
        self.num_joints: int | None = len(ShapesPose.joint_names) if source == "shapes" else None
        self.joint_names: list[str] = list(ShapesPose.joint_names) if source == "shapes" else []
        self.flip_pairs: list[tuple[int, int]] = list(ShapesPose.flip_pairs) if source == "shapes" else []
        self.skeleton: list[tuple[int, int]] = list(ShapesPose.skeleton) if source == "shapes" else []
        self._torso: tuple[int, int] | None = None  # set with the source (normaliser="torso")

    @staticmethod
    def _splits(source: str, train_split: str | None, val_split: str | None) -> tuple[str, str]:
        default = {"coco": ("train2017", "val2017"), "mpii": ("train", "valid")}.get(source, ("train", "val"))
        return train_split or default[0], val_split or default[1]

    @classmethod
    def _check_source(cls, source: str, root: str | None, train_split: str | None = None,
                      val_split: str | None = None, **_: object) -> None:
        path = Path(root or "")
        for split in cls._splits(source, train_split, val_split):
            need = (path / "annotations" / f"person_keypoints_{split}.json" if source == "coco"
                    else path / "annot" / f"{split}.json")
            if not root or not need.is_file():
                layout = coco_keypoints_help(path, split) if source == "coco" else mpii_help(path)
                raise DatasetError(f"data.init_args.root={root!r}: {need} is missing.\n{layout}")

    @property
    def has_head_size(self) -> bool:
        """Whether head sizes (PCKh) come with the data: MPII only."""
        return self.hparams.source == "mpii"

    def _raw(self, train: bool) -> Dataset:
        h = self.hparams
        train_split, val_split = self._splits(h.source, h.train_split, h.val_split)
        on_disk = train_split if train else val_split
        if h.source == "shapes":
            size = h.train_size if train else h.val_size
            view = ShapesPose("train" if train else "val", size, self.world, h.max_people, tuple(h.figure_scale))  # type: ignore[arg-type]
            src = ShapesPoseSource(view)
        elif h.source == "coco":
            src = COCOKeypoints(h.root, on_disk, h.bad_keypoints)
        else:
            src = MPIIPose(h.root, on_disk, h.bad_keypoints)
        self.num_joints = len(src.joint_names)
        self._torso = tuple(src.torso) if h.normaliser == "torso" else None
        self.joint_names, self.flip_pairs, self.skeleton = list(src.joint_names), list(src.flip_pairs), list(src.skeleton)
        return src

    def _split(self, split: Split) -> Dataset | None:
        if split == "test":
            return None
        h = self.hparams
        if split == "train":
            crops = TopDownCrops(self._raw(True), h.input_size, self.flip_pairs, h.padding, train=True,
                                 flip=h.flip, rotation=h.rotation, scale=h.scale, torso=self._torso)
            return Mapped(crops, AlbuPose(h.albumentations)) if h.albumentations else crops
        return TopDownCrops(self._raw(False), h.input_size, self.flip_pairs, h.padding, torso=self._torso)

    def collate_fn(self, ds: Dataset, train: bool) -> _Collate:
        return _Collate(*self._stats())


__all__ = ["PoseDataModule", "ShapesPoseSource"]
