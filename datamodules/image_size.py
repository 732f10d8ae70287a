"""The check that on-disk images reach the network at ``image_size`` when the recipe keeps their size.

The "none" and "flip" recipes only normalise (and flip), so 32 px images with
``image_size: 64`` would reach a network built for 64 px and fail deep inside it (a pooling
layer with an empty output). This check reads the first image's size at setup and stops the
run before training with one ``ConfigError`` that names both sizes and the recipes that resize.
"""

from __future__ import annotations

import torch
from PIL import Image
from torch.utils.data import Dataset

from contracts.errors import ConfigError
from datamodules.sources.image_check import IMAGE_ERRORS
from datamodules.transforms import RESIZING_RECIPES


def first_image_size(ds: Dataset) -> tuple[int, int, str] | None:
    """``(width, height, which image)`` of the dataset's first image; None when there is none to read.

    An image-file source (one with torchvision's ``samples``) is measured from the file's header;
    any other source by reading its first sample.
    """
    if len(ds) == 0:  # type: ignore[arg-type]
        return None
    samples = getattr(ds, "samples", None)
    if samples:
        path = samples[0][0]
        try:
            with Image.open(path) as im:
                width, height = im.size
        except IMAGE_ERRORS:  # reading it raises a DatasetError naming the file, where it belongs
            return None
        return width, height, path
    image = ds[0][0]
    if isinstance(image, torch.Tensor):
        height, width = image.shape[-2:]
    else:  # PIL
        width, height = image.size
    return int(width), int(height), "the first image"


def check_image_size(ds: Dataset, image_size: int, recipe: str) -> None:
    """Raise when the images of ``ds`` are not ``image_size`` square and ``recipe`` keeps their size.

    Raises:
        ConfigError: naming the size found on disk (and the file), ``data.init_args.image_size``
            and the recipes that resize.
    """
    found = first_image_size(ds)
    if found is None or found[:2] == (image_size, image_size):
        return
    width, height, where = found
    raise ConfigError(
        f"data.init_args.augment={recipe!r} keeps the images' size, but they are {width}x{height} px "
        f"({where}) while data.init_args.image_size={image_size}: the network would get {width}x{height} "
        f"inputs. Pick a recipe that resizes to image_size ({', '.join(RESIZING_RECIPES)}) or set "
        "data.init_args.image_size to the images' size."
    )
