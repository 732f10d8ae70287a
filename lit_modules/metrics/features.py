"""Feature extractors for FID/KID: a small ShapesWorld classifier trained by this project, or
Inception-v3 from a local weights file.

Both take images in [-1, 1] (the GAN family's range), float (B, 3, H, W), and return features
(B, num_features); ``logits`` gives class scores for mode coverage / Inception score.

The ShapesWorld classifier is trained by ``paperlab baseline gan-features`` and shipped
as ``shapes_features.pt`` next to this file (255 kB; the GAN demos' world: 32 px, one of 6 kinds on
a flat colour; 6000 training images, 8 epochs, seed 0, 117 s at 1 CPU thread): validation
accuracy 0.995 on 1000 ShapesWorld val images. Scores computed with it are *not* comparable
to Inception FIDs in papers, which is why every metric name carries the feature tag
(``val/fid_shapes`` vs ``val/fid_inception``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SHAPES_FEATURES = Path(__file__).with_name("shapes_features.pt")
TRAIN_COMMAND = "paperlab baseline gan-features --out lit_modules/metrics/shapes_features.pt"


class ShapesFeatureNet(nn.Module):
    """Tiny CNN classifier of ShapesWorld kinds; its pooled penultimate layer is the feature space.

    Args:
        num_classes: shape kinds.
        image_size: side it is trained at; other inputs are resized to it (bilinear).
        width: channels of the first conv (doubling twice, then ``feature_dim``).
        feature_dim: size of the feature vector.

    I/O: images (B, 3, H, W) in [-1, 1] -> features (B, feature_dim); ``logits`` -> (B, num_classes).
    """

    def __init__(self, num_classes: int, image_size: int = 32, width: int = 16, feature_dim: int = 64) -> None:
        super().__init__()
        self.image_size, self.num_classes, self.num_features = image_size, num_classes, feature_dim

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.body = nn.Sequential(
            *block(3, width), nn.MaxPool2d(2),  # S/2
            *block(width, 2 * width), nn.MaxPool2d(2),  # S/4
            *block(2 * width, 4 * width), nn.MaxPool2d(2),  # S/8
            *block(4 * width, feature_dim), nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, feature_dim)
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=True)
        return self.body(images.float())

    def logits(self, images: Tensor) -> Tensor:
        return self.head(self(images))


def load_shapes_features(path: str | Path = SHAPES_FEATURES) -> ShapesFeatureNet:
    """The trained classifier from ``path`` (written by ``paperlab baseline gan-features``), frozen, eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ShapesWorld feature classifier not found; train it with `{TRAIN_COMMAND}`.")
    ckpt: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    net = ShapesFeatureNet(ckpt["num_classes"], ckpt["image_size"], ckpt["width"], ckpt["feature_dim"])
    net.load_state_dict(ckpt["state_dict"])
    net.kinds = tuple(ckpt.get("kinds", ()))  # type: ignore[assignment]
    net.world = dict(ckpt.get("world", {}))  # type: ignore[assignment]  # the ShapesWorld it was trained on
    return net.eval().requires_grad_(False)


class InceptionFeatures(nn.Module):
    """torchvision Inception-v3 from a local weights file: 2048-d pool features and 1000 logits.

    These are torchvision's ImageNet weights (e.g. ``inception_v3_google-0cc3c7bd.pth``), not the
    TF graph behind the published FID/IS numbers, so absolute values differ somewhat from papers.
    The weights expect inputs in [-1, 1], which is what GAN images are, so only the 299 px resize
    is applied (``transform_input=False``).

    Args:
        weights_path: a state dict file for ``torchvision.models.inception_v3``; never downloaded.
    """

    num_features = 2048

    def __init__(self, weights_path: str | Path) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        path = Path(weights_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: Inception-v3 weights file not found (nothing is downloaded; "
                                    "give a local torchvision inception_v3 state dict).")
        net = inception_v3(weights=None, aux_logits=True, transform_input=False, init_weights=False)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        net.aux_logits, net.AuxLogits = False, None
        self.fc = net.fc
        net.fc = nn.Identity()
        self.net = net.eval().requires_grad_(False)
        self.requires_grad_(False)

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)  # always eval: BN statistics and dropout stay fixed

    def forward(self, images: Tensor) -> Tensor:
        x = F.interpolate(images.float(), size=(299, 299), mode="bilinear", align_corners=False)
        return self.net(x)  # (B, 2048)

    def logits(self, images: Tensor) -> Tensor:
        return self.fc(self(images))
