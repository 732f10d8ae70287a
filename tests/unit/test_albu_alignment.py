"""Boxes, masks and keypoints stay aligned with the image through every training pipeline
(albumentations recipes, a YAML-declared list, SSD's torchvision v2 pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from datamodules.albu import AlbuDetection, AlbuSegmentation, compose
from datamodules.ssd_augment import SSDAugment

H, W = 60, 80
BOX = (20, 15, 50, 40)  # x0, y0, x1, y1 of the filled rectangle
COLOUR = (250, 30, 30)

YAML_SPEC = yaml.safe_load("""
- {__class_fullname__: HorizontalFlip, p: 0.5}
- {__class_fullname__: Affine, scale: [0.7, 1.3], translate_percent: [-0.2, 0.2], rotate: [-10, 10], p: 1.0}
- {__class_fullname__: RandomBrightnessContrast, p: 0.5}
""")
PIPELINES = {"yolo": lambda: AlbuDetection("yolo"), "unet_elastic": lambda: AlbuDetection("unet_elastic"),
             "yaml_list": lambda: AlbuDetection(YAML_SPEC), "ssd": SSDAugment}


def _scene() -> tuple[torch.Tensor, dict]:
    image = torch.zeros(3, H, W, dtype=torch.uint8)
    x0, y0, x1, y1 = BOX
    image[:, y0:y1, x0:x1] = torch.tensor(COLOUR, dtype=torch.uint8)[:, None, None]
    mask = torch.zeros(1, H, W, dtype=torch.uint8)
    mask[0, y0:y1, x0:x1] = 1
    # corners a little inside the rectangle, visible
    kps = torch.tensor([[[x0 + 2, y0 + 2, 2], [x1 - 3, y0 + 2, 2], [x0 + 2, y1 - 3, 2], [x1 - 3, y1 - 3, 2]]],
                       dtype=torch.float32)
    return image, {"boxes": torch.tensor([BOX], dtype=torch.float32), "labels": torch.tensor([4]), "masks": mask,
                   "keypoints": kps, "iscrowd": torch.zeros(1, dtype=torch.uint8)}


def _mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    ys, xs = np.nonzero(mask)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


@pytest.mark.parametrize("name", list(PIPELINES))
def test_box_mask_keypoints_follow_the_pixels(name):
    torch.manual_seed(0)
    np.random.seed(0)
    step = PIPELINES[name]()
    image, target = _scene()
    seen = 0
    for _ in range(25):
        out, t = step(image, target)
        assert out.dtype == torch.uint8 and t["masks"].shape[-2:] == out.shape[-2:]
        assert len(t["boxes"]) == len(t["labels"]) == len(t["masks"]) == len(t["iscrowd"])
        if not len(t["boxes"]) or t["masks"][0].sum() < 20:
            continue  # the object left the image (dropped or a sliver at the border)
        seen += 1
        mask = t["masks"][0].numpy().astype(bool)
        mx0, my0, mx1, my1 = _mask_box(mask)
        bx0, by0, bx1, by1 = t["boxes"][0].tolist()
        tol = 2.0 if name != "unet_elastic" else 4.0  # an elastic warp bends edges; the box follows the mask
        assert bx0 - tol <= mx0 and by0 - tol <= my0 and mx1 <= bx1 + tol and my1 <= by1 + tol, (name, t["boxes"])
        assert mx1 - mx0 >= (bx1 - bx0) - 2 * tol - 1  # and bounds it tightly, not just loosely
        # the rectangle's pixels moved with the mask: the saturated colour is where the mask is
        # (max - min over channels: SSD's photometric distortion may permute the channels)
        spread = out.float().amax(0) - out.float().amin(0)
        assert spread[torch.from_numpy(mask)].mean() > spread[~torch.from_numpy(mask)].mean() + 50
        if "keypoints" in t and name != "ssd":  # SSD's v2 pipeline carries no keypoints
            for x, y, v in t["keypoints"][0].tolist():
                if v > 0:
                    xi, yi = min(int(x), out.shape[-1] - 1), min(int(y), out.shape[-2] - 1)
                    near = mask[max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2]
                    assert near.any(), (name, x, y)
    assert seen >= 10, f"{name}: the object survived only {seen} of 25 draws"


def test_segmentation_pipeline_keeps_mask_on_the_rectangle():
    torch.manual_seed(0)
    step = AlbuSegmentation("unet_elastic")
    image, target = _scene()
    sem = target["masks"][0].long() * 3  # class 3 on the rectangle
    for _ in range(10):
        out, mask = step(image, sem)
        assert mask.dtype == torch.int64 and set(mask.unique().tolist()) <= {0, 3}
        red = out[0].float() - out[1].float()
        assert red[mask == 3].mean() > red[mask == 0].mean() + 50


def test_compose_builds_from_the_serialised_dicts():
    c = compose(YAML_SPEC, boxes=True, keypoints=True)
    assert [type(t).__name__ for t in c.transforms] == ["HorizontalFlip", "Affine", "RandomBrightnessContrast"]


def test_datamodules_take_the_pipelines_from_their_arguments():
    from datamodules.detection import DetectionDataModule
    from datamodules.segmentation import SegmentationDataModule

    det = DetectionDataModule(image_size=64, train_size=8, val_size=4, batch_size=4, num_workers=0, masks=True,
                              albumentations=YAML_SPEC, augment="ssd")
    det.setup("fit")
    images, targets = next(iter(det.train_dataloader()))
    assert images[0].dtype == torch.float32 and targets[0]["masks"].shape[-2:] == images[0].shape[-2:]
    seg = SegmentationDataModule(train_size=8, val_size=4, batch_size=4, num_workers=0, albumentations="unet_elastic")
    seg.setup("fit")
    images, masks = next(iter(seg.train_dataloader()))
    assert images.shape[-2:] == masks.shape[-2:] and masks.dtype == torch.int64


POSE_SPEC = yaml.safe_load("""
- {__class_fullname__: Affine, rotate: [-20, 20], translate_percent: [-0.1, 0.1], p: 1.0}
- {__class_fullname__: ColorJitter, p: 0.5}
""")


def test_pose_crop_keypoints_follow_the_pixels():
    from datamodules.albu import AlbuPose

    torch.manual_seed(0)
    step = AlbuPose(POSE_SPEC)
    image, target = _scene()
    kps = target["keypoints"][0]
    for _ in range(20):
        out, k, norm, head = step(image, kps, 12.0, 3.0)
        assert (norm, head) == (12.0, 3.0) and k.shape == kps.shape
        spread = out.float().amax(0) - out.float().amin(0)
        for x, y, v in k.tolist():
            if v > 0:  # a visible corner still lies on the rectangle's pixels
                xi, yi = int(x), int(y)
                assert spread[max(0, yi - 1):yi + 2, max(0, xi - 1):xi + 2].max() > 100, (x, y)


def test_pose_pipeline_refuses_flips():
    from contracts.errors import ConfigError
    from datamodules.albu import AlbuPose

    with pytest.raises(ConfigError, match="flip"):
        AlbuPose([{"__class_fullname__": "HorizontalFlip", "p": 0.5}])


def test_pose_datamodule_takes_the_pipeline():
    from datamodules.pose import PoseDataModule

    dm = PoseDataModule(train_size=8, val_size=4, batch_size=4, num_workers=0, albumentations=POSE_SPEC)
    dm.setup("fit")
    images, keypoints, *_ = next(iter(dm.train_dataloader()))
    assert images.shape[-1] == dm.hparams.input_size and keypoints.shape[-1] == 3


def test_albumentations_draws_follow_torchs_seed():
    """The loader seeds torch per sample; the pipelines must then repeat exactly (resumed runs)."""
    image, target = _scene()
    step = AlbuDetection("yolo")
    torch.manual_seed(5)
    a = step(image, target)
    torch.manual_seed(5)
    b = step(image, target)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1]["boxes"], b[1]["boxes"])
