"""The papers' training and evaluation augmentations, built on ``torchvision.transforms.v2``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from datamodules.distortions import AffineDistort

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# Principal components of ImageNet RGB pixels in [0, 1] (Krizhevsky 2012, Sec. 4.1), as used
# by fb.resnet.torch and most reimplementations; eigenvectors are the columns.
IMAGENET_PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_PCA_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

Recipe = Literal["none", "flip", "alexnet", "vgg", "vit", "cifar", "lenet"]
# The recipes that bring any image to image_size (resize, then crop); "cifar" only crops (with
# padding) and "none"/"flip" keep the size, so those need data already at image_size.
RESIZING_RECIPES: tuple[str, ...] = ("alexnet", "vgg", "vit")
SIZE_KEEPING_RECIPES: tuple[str, ...] = ("none", "flip", "lenet")


def _is_plain_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and not isinstance(x, tv_tensors.TVTensor)


class PCALighting(v2.Transform):
    """AlexNet's "fancy PCA" colour augmentation (Krizhevsky et al. 2012, Sec. 4.1).

    Adds ``eigvec @ (alpha * eigval)``, with ``alpha ~ N(0, alpha_std)`` drawn once per call, to
    every pixel: a shift of the whole image's colour along ImageNet's principal RGB axes, which
    the paper says makes the net less sensitive to illumination colour and intensity.

    Args:
        alpha_std: Standard deviation of the three PCA coefficients (0.1 in the paper).

    Input/output: float images in [0, 1] (``[..., 3, H, W]``), before normalisation; the
    output is not clamped, as in the reference implementations. Masks and boxes pass through.
    """

    _transformed_types = (tv_tensors.Image, tv_tensors.Video, _is_plain_tensor)

    def __init__(self, alpha_std: float = 0.1) -> None:
        super().__init__()
        self.alpha_std = alpha_std
        self.register_buffer("eigval", torch.tensor(IMAGENET_PCA_EIGVAL), persistent=False)
        self.register_buffer("eigvec", torch.tensor(IMAGENET_PCA_EIGVEC), persistent=False)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        alpha = torch.randn(3) * self.alpha_std
        return {"rgb": self.eigvec @ (alpha * self.eigval)}  # (3,)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not torch.is_floating_point(inpt):
            raise TypeError(
                "PCALighting works on float images in [0, 1]; put it after "
                "v2.ToDtype(torch.float32, scale=True)."
            )
        rgb = params["rgb"].to(inpt.device, inpt.dtype).view(3, 1, 1)  # broadcast over H, W
        out = inpt + rgb
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out


def _short_side(image_size: int, scale: int) -> int:
    # The papers crop 224 from a 256 (or up to 512) short side; keep that ratio at any size.
    return round(image_size * scale / 224)


def build_transforms(
    recipe: Recipe,
    image_size: int,
    train: bool,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> v2.Compose:
    """One paper's augmentation as a v2 pipeline.

    - ``alexnet``: short side to ``image_size*256/224``; train random crop + flip + PCA
      lighting (Krizhevsky 2012), eval centre crop.
    - ``vgg``: train scale jitter, short side S uniform in ``image_size*[256, 512]/224``, then
      random crop + flip (Simonyan 2015); eval short side at the smaller scale + centre crop.
    - ``vit``: train RandomResizedCrop + flip; eval short side to ``image_size`` + centre crop.
    - ``cifar``: train random crop with 4-pixel zero padding + flip (He 2016); eval centre crop
      (a no-op on 32 px CIFAR).
    - ``lenet``: train LeNet-5's "distortions", random translation, scaling, squeezing and
      shear (LeCun 1998, Sec. III.C; ``datamodules.distortions``), no flip (digits have a side).
    - ``flip``: train flip only. ``none``: only to-float and normalise. These three leave the size
      alone, so they suit data already at ``image_size``.

    Args:
        recipe: Which augmentation.
        image_size: Side of the square output (except ``none``/``flip``).
        train: Random training augmentation if True, deterministic evaluation otherwise.
        mean: Per-channel mean for normalisation, on the [0, 1] scale.
        std: Per-channel standard deviation for normalisation.

    Returns:
        A ``v2.Compose`` taking a PIL image or uint8 tensor ``[3, H, W]`` (or a batch
        ``[B, 3, H, W]``, augmented alike) to a normalised float32 tensor ``[3, h, w]``.
    """
    flip = [v2.RandomHorizontalFlip()] if train else []
    if recipe == "none":
        geometric: list[v2.Transform] = []
    elif recipe == "flip":
        geometric = flip
    elif recipe == "lenet":
        geometric = [AffineDistort()] if train else []
    elif recipe == "alexnet":
        crop = v2.RandomCrop(image_size) if train else v2.CenterCrop(image_size)
        geometric = [v2.Resize(_short_side(image_size, 256)), crop, *flip]
    elif recipe == "vgg":
        lo, hi = _short_side(image_size, 256), _short_side(image_size, 512)
        if train:  # RandomResize draws the short side from [lo, hi + 1)
            geometric = [v2.RandomResize(lo, hi + 1), v2.RandomCrop(image_size), *flip]
        else:
            geometric = [v2.Resize(lo), v2.CenterCrop(image_size)]
    elif recipe == "vit":
        if train:
            geometric = [v2.RandomResizedCrop(image_size), *flip]
        else:
            geometric = [v2.Resize(image_size), v2.CenterCrop(image_size)]
    elif recipe == "cifar":
        if train:
            geometric = [v2.RandomCrop(image_size, padding=4), *flip]
        else:
            geometric = [v2.CenterCrop(image_size)]
    else:
        raise ValueError(f"unknown recipe {recipe!r}; expected one of {Recipe.__args__}")
    lighting = [PCALighting()] if recipe == "alexnet" and train else []
    return v2.Compose(
        [
            v2.ToImage(),  # PIL or plain tensor -> tv_tensors.Image, so every step treats it alike
            *geometric,  # on uint8: cheaper, and identical for PIL and tensor input
            v2.ToDtype(torch.float32, scale=True),
            *lighting,
            v2.Normalize(mean=list(mean), std=list(std)),
            v2.ToPureTensor(),
        ]
    )


def ten_crop(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """AlexNet's test-time ten crops: four corners and centre, and their horizontal flips.

    Args:
        images: Batch ``(B, C, H, W)``.
        size: Crop side, or ``(h, w)``.

    Returns:
        ``(10, B, C, h, w)``; average the network's softmax over the first dimension.
    """
    if images.ndim != 4:
        raise ValueError(f"ten_crop expects a batch (B, C, H, W), got shape {tuple(images.shape)}")
    size = [size, size] if isinstance(size, int) else list(size)
    return torch.stack(F.ten_crop(images, size))  # (10, B, C, h, w)
