"""Box-, mask- and keypoint-aware training pipelines from albumentations, declared in the YAML config.

A pipeline is either a named recipe (``"yolo"``, ``"unet_elastic"``) or a list of transforms in
albumentations' own serialised form, one dict each with ``__class_fullname__`` and its arguments::

    albumentations:
      - {__class_fullname__: HorizontalFlip, p: 0.5}
      - {__class_fullname__: Affine, scale: [0.8, 1.2], translate_percent: [-0.2, 0.2], p: 1.0}

``A.from_dict`` builds the ``A.Compose``; the family adds ``bbox_params`` (xyxy pixels, boxes
that leave the image dropped together with their masks, labels and flags) and ``keypoint_params``.
SSD's photometric distortion, zoom-out and min-IoU crop have no albumentations counterpart for the
crop; they are torchvision v2's ``RandomPhotometricDistort``/``RandomZoomOut``/``RandomIoUCrop``
(``datamodules.transforms.ssd_augment``).
"""

from __future__ import annotations

from typing import Any, Literal

import albumentations as A
import numpy as np
import torch

AlbuRecipe = Literal["yolo", "unet_elastic"]
AlbuSpec = AlbuRecipe | list[dict[str, Any]]

# YOLO v1 (Redmon 2016, Sec. 2.2): "random scaling and translations of up to 20% of the original
# image size", exposure and saturation "by up to a factor of 1.5 in the HSV color space"; flips as
# in the reference darknet code.
YOLO: list[dict[str, Any]] = [
    {"__class_fullname__": "HorizontalFlip", "p": 0.5},
    {"__class_fullname__": "Affine", "scale": [0.8, 1.2], "translate_percent": [-0.2, 0.2], "p": 1.0},
    {"__class_fullname__": "ColorJitter", "brightness": [1 / 1.5, 1.5], "saturation": [1 / 1.5, 1.5],
     "contrast": [1.0, 1.0], "hue": [0.0, 0.0], "p": 1.0},
]
# U-Net (Ronneberger 2015, Sec. 3.1): smooth elastic deformations (displacements ~10 px), plus
# shifts/rotations and flips.
UNET_ELASTIC: list[dict[str, Any]] = [
    {"__class_fullname__": "HorizontalFlip", "p": 0.5},
    {"__class_fullname__": "Affine", "rotate": [-15, 15], "translate_percent": [-0.05, 0.05], "p": 0.5},
    {"__class_fullname__": "ElasticTransform", "alpha": 30.0, "sigma": 6.0, "p": 0.8},
]


def compose(spec: AlbuSpec, *, boxes: bool = False, keypoints: bool = False) -> A.Compose:
    """The ``A.Compose`` of ``spec`` (a recipe name or a list of serialised transforms)."""
    transforms = {"yolo": YOLO, "unet_elastic": UNET_ELASTIC}[spec] if isinstance(spec, str) else list(spec)
    data: dict[str, Any] = {"__class_fullname__": "Compose", "transforms": transforms, "p": 1.0}
    if boxes:
        data["bbox_params"] = {"format": "pascal_voc", "label_fields": ["index"], "clip": True, "min_area": 1.0}
    if keypoints:
        data["keypoint_params"] = {"format": "xy", "remove_invisible": False}
    return A.from_dict({"transform": data})


def _run(pipeline: A.Compose, **data: Any) -> dict[str, Any]:
    """``pipeline(**data)`` with its random draws taken from torch's global RNG.

    albumentations keeps its own generator; seeding it from torch per call makes every draw follow
    the loader's per-sample seeding (a resumed run augments as the uninterrupted one did) and
    ``torch.manual_seed`` alone fixes a pipeline in tests.
    """
    pipeline.set_random_seed(int(torch.randint(0, 2**31 - 1, ())))
    return pipeline(**data)


def _hwc(image: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())  # (3, H, W) uint8 -> (H, W, 3)


def _chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


class AlbuDetection:
    """``(image uint8 (3, H, W), target)`` -> the same after the pipeline, boxes/masks/keypoints moved with it.

    Every per-object tensor of the target (first dimension = number of boxes: labels, masks,
    iscrowd, difficult, keypoints (N, K, 3)) follows its box; objects whose box leaves the image are
    dropped. Keypoints keep their visibility flag; one that leaves the image gets flag 0.
    """

    def __init__(self, spec: AlbuSpec) -> None:
        self.spec = spec
        self.pipeline = compose(spec, boxes=True, keypoints=True)

    def __call__(self, image: torch.Tensor, target: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        boxes = target["boxes"]
        n = len(boxes)
        masks = target.get("masks")
        kps = target.get("keypoints")  # (N, K, 3) x, y, visibility
        args: dict[str, Any] = {"image": _hwc(image), "bboxes": boxes.numpy().reshape(-1, 4).astype(np.float32),
                                "index": list(range(n)),
                                "keypoints": kps[..., :2].reshape(-1, 2).numpy() if kps is not None else np.zeros((0, 2))}
        if masks is not None:
            args["masks"] = list(masks.numpy())
        out = _run(self.pipeline, **args)
        keep = torch.as_tensor(out["index"], dtype=torch.long)
        h, w = out["image"].shape[:2]
        t = {k: (v[keep] if isinstance(v, torch.Tensor) and v.ndim and len(v) == n and k != "boxes" else v)
             for k, v in target.items()}
        t["boxes"] = torch.as_tensor(np.asarray(out["bboxes"]), dtype=torch.float32).reshape(-1, 4)
        if masks is not None:
            stacked = np.stack(out["masks"]) if n else np.zeros((0, h, w), masks.numpy().dtype)
            t["masks"] = torch.from_numpy(stacked)[keep]
        if kps is not None:
            xy = torch.as_tensor(np.asarray(out["keypoints"])[:, :2], dtype=torch.float32).reshape(n, -1, 2)
            inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
            vis = kps[..., 2] * inside
            t["keypoints"] = torch.cat([xy, vis.unsqueeze(-1).to(xy.dtype)], -1)[keep]
        return _chw(out["image"]), t


class AlbuSegmentation:
    """``(image uint8 (3, H, W), mask (H, W))`` -> both through the pipeline (nearest-neighbour for the mask).

    Pixels the geometry brings in from outside the image get class 0 (background).
    """

    def __init__(self, spec: AlbuSpec) -> None:
        self.spec = spec
        self.pipeline = compose(spec)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = _run(self.pipeline, image=_hwc(image), mask=mask.numpy().astype(np.uint8))  # classes 0..254, 255 ignore
        return _chw(out["image"]), torch.from_numpy(np.ascontiguousarray(out["mask"])).to(mask.dtype)


class AlbuPose:
    """A top-down crop ``(image uint8 (3, S, S), keypoints (K, 3), pck_norm, head_size)`` through the pipeline.

    Keypoints move with the pixels; one that leaves the crop gets visibility 0. Flips stay with the
    datamodule's ``flip`` (it swaps left and right joints, which albumentations' flips do not), and
    ``pck_norm``/``head_size`` are passed on unchanged, so geometric transforms should keep the scale.
    """

    def __init__(self, spec: AlbuSpec) -> None:
        names = [t.get("__class_fullname__", "") for t in spec] if not isinstance(spec, str) else [spec]
        if any("Flip" in n or n in ("yolo", "unet_elastic") for n in names):
            from contracts.errors import ConfigError

            raise ConfigError("data.init_args.albumentations: pose pipelines take no flips (they would not swap "
                              "left and right joints; use data.init_args.flip) and no detection/segmentation recipe")
        self.spec = spec
        self.pipeline = compose(spec, keypoints=True)

    def __call__(self, image: torch.Tensor, kps: torch.Tensor, norm: float, head: float):
        out = _run(self.pipeline, image=_hwc(image), keypoints=kps[:, :2].numpy())
        h, w = out["image"].shape[:2]
        xy = torch.as_tensor(np.asarray(out["keypoints"])[:, :2], dtype=kps.dtype).reshape(-1, 2)
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        return _chw(out["image"]), torch.cat([xy, (kps[:, 2] * inside).unsqueeze(1)], 1), norm, head


class Chain:
    """Sample transforms applied in turn, each called as ``step(*sample)`` and returning the new sample."""

    def __init__(self, *steps: Any) -> None:
        self.steps = steps

    def __call__(self, *sample: Any) -> Any:
        for step in self.steps:
            sample = step(*sample)
        return sample
