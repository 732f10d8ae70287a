"""ShapesWorld views for classification, detection/instance and semantic segmentation, and SSL.

Each view is a thin label extractor over ``scene.sample_scene`` + ``scene.render``; the pose,
caption and clip views live in ``pose.py``, ``captions.py`` and ``clips.py``. Every view has
``scene(index)``, the ``Scene`` behind sample ``index``, for notebooks and tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from datamodules.shapes.base import ShapesView, to_tensor
from datamodules.shapes.scene import (
    Scene,
    Split,
    WorldConfig,
    mask_boxes,
    object_mask,
    render,
    render_image,
    sample_scene,
)


class _LabelledImageView(ShapesView):
    """An image and one int label per scene; classification and SSL differ only in scene and label."""

    def __init__(
        self,
        split: Split = "train",
        size: int = 1000,
        config: WorldConfig | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        super().__init__(split, size, config)
        self.transform = transform

    def scene(self, index: int) -> Scene:
        raise NotImplementedError

    def label(self, scene: Scene) -> int:
        """The label of ``scene``."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, int]:
        scene = self.scene(index)
        image = to_tensor(render_image(scene))
        return (self.transform(image) if self.transform else image), self.label(scene)


class ShapesClassification(_LabelledImageView):
    """One dominant object per image over a background with clutter; the label is its kind.

    Distractors (``config.clutter`` strokes and blobs) are all smaller than the object, colours
    are drawn independently of the class, so only shape identifies the label.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples.
        config: World settings (``image_size``, ``kinds``, ``scale_range``, ...).
        transform: Optional callable applied to the image tensor.

    Returns (per item):
        ``(image, label)``: uint8 tensor (3, H, W) and an int in ``[0, num_classes)``.
    """

    def scene(self, index: int) -> Scene:
        return sample_scene(self.stream(index), self.config, 1)

    def label(self, scene: Scene) -> int:
        return scene.objects[0].label

    def object_mask(self, index: int) -> torch.Tensor:
        """The labelled object's mask in sample ``index``, bool ``(H, W)``.

        The object is drawn last, over the clutter, so its full mask is what the image shows of
        it. For measuring where an explanation points (``experiments.explain``); training
        batches stay ``(image, label)``.
        """
        scene = self.scene(index)
        return torch.from_numpy(object_mask(scene.objects[0], scene.size).copy())


class _MultiObjectView(ShapesView):
    """Scenes of ``min_objects..max_objects`` objects; detection and segmentation share them,
    so index i shows the same scene in both views."""

    def __init__(
        self,
        split: Split = "train",
        size: int = 1000,
        config: WorldConfig | None = None,
        transforms: Callable[[torch.Tensor, Any], tuple[Any, Any]] | None = None,
    ) -> None:
        super().__init__(split, size, config)
        self.transforms = transforms

    def scene(self, index: int) -> Scene:
        r = self.stream(index)
        n = r.integers(self.config.min_objects, self.config.max_objects + 1)
        return sample_scene(r, self.config, n)

    def _apply(self, image: torch.Tensor, target: Any) -> tuple[Any, Any]:
        return self.transforms(image, target) if self.transforms else (image, target)


class ShapesDetection(_MultiObjectView):
    """Several objects per image with boxes, labels and instance masks (torchvision convention).

    Objects that would be hidden more than ``config.occlusion`` are never placed, so every
    target object is mostly visible; boxes bound the visible part.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples.
        config: World settings (``min_objects``, ``max_objects``, ``occlusion``, ...).
        transforms: Optional callable ``(image, target) -> (image, target)``.

    Returns (per item):
        ``(image, target)``: image uint8 (3, H, W); target dict with ``boxes`` float32 (N, 4)
        xyxy pixels (x1 - x0 = width), ``labels`` int64 (N,) in ``1..num_classes`` (0 is
        background), ``masks`` uint8 (N, H, W) visible instance masks. N >= 1.
    """

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        scene = self.scene(index)
        image, _, visible = render(scene, masks=True)
        keep = visible.reshape(len(visible), -1).any(1)  # only empty if occlusion == 1
        visible = visible[keep]
        labels = [o.label + 1 for o, k in zip(scene.objects, keep) if k]
        target = {
            "boxes": torch.from_numpy(mask_boxes(visible)),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "masks": torch.from_numpy(visible.astype(np.uint8)),
        }
        return self._apply(to_tensor(image), target)


class ShapesSegmentation(_MultiObjectView):
    """The detection scenes with a per-pixel class map.

    Returns (per item):
        ``(image, mask)``: image uint8 (3, H, W); mask uint8 (H, W), 0 = background, k = class
        ``classes[k - 1]`` (so the model has ``num_classes + 1`` outputs). uint8 as in VOC's PNG masks:
        an eighth of int64's memory and cache file; losses take ``mask.long()``.
    """

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        scene = self.scene(index)
        image, _, visible = render(scene, masks=True)
        mask = np.zeros(image.shape[:2], np.uint8)
        for obj, m in zip(scene.objects, visible):  # visible masks are disjoint
            mask[m] = obj.label + 1
        return self._apply(to_tensor(image), torch.from_numpy(mask))


class ShapesUnlabeled(_LabelledImageView):
    """Scenes of 1-3 objects for self-supervised learning; the label is held out for evaluation.

    The first object is clearly the largest (others at most 0.6 of its size), and its kind is
    the label a linear probe or kNN classifier is scored on.

    Args:
        split: ``train``, ``val`` or ``test``.
        size: Number of samples.
        config: World settings.
        transform: Optional callable on the image tensor (e.g. one returning two augmented views).

    Returns (per item):
        ``(image, label)``: uint8 tensor (3, H, W), int in ``[0, num_classes)``.
    """

    def scene(self, index: int) -> Scene:
        r = self.stream(index)
        return sample_scene(r, self.config, r.integers(1, 4), dominant=True)

    def label(self, scene: Scene) -> int:
        return max(scene.objects, key=lambda o: o.size).label

    def object_mask(self, index: int) -> torch.Tensor:
        """What the image shows of the labelled (largest) object in sample ``index``, bool ``(H, W)``.

        Smaller objects may be drawn over it, so this is its visible mask (``explain`` measures
        where an encoder's maps point against it).
        """
        scene = self.scene(index)
        largest = max(range(len(scene.objects)), key=lambda i: scene.objects[i].size)
        return torch.from_numpy(render(scene, masks=True).visible[largest].copy())
