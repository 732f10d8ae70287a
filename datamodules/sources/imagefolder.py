"""ImageNet-layout class folders (``root/<split>/<class>/<image>``) as a torch Dataset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes

from contracts.errors import DatasetError
from datamodules.sources.image_check import IMAGE_ERRORS, BadImagePolicy, bad_image_files

_VALPREP = "https://raw.githubusercontent.com/soumith/imagenetloader.torch/master/valprep.sh"


def imagefolder_layout_help(root: Path) -> str:
    return (
        "Expected an ImageNet-style tree, one folder per class in every split:\n"
        f"  {root}/train/n01440764/n01440764_10026.JPEG\n"
        f"  {root}/train/n01443537/...\n"
        f"  {root}/val/n01440764/ILSVRC2012_val_00000293.JPEG\n"
        "ImageNet (ILSVRC2012) comes from https://image-net.org/download.php (free registration). "
        "Extract ILSVRC2012_img_train.tar into train/ (each class is an inner tar: untar each into "
        "its own n0xxxxxxx/ folder) and ILSVRC2012_img_val.tar into val/, then sort val/ into "
        f"class folders with the usual valprep.sh script ({_VALPREP}). "
        "Any other dataset arranged the same way works too."
    )


def _load_rgb(path: str) -> Image.Image:
    """Read one image as RGB, naming the file when it cannot be decoded."""
    try:
        with open(path, "rb") as f:
            # convert() forces the decode here, so truncated files fail inside the try.
            return Image.open(f).convert("RGB")
    except IMAGE_ERRORS as e:
        raise DatasetError(f"{path}: cannot be read as an image ({type(e).__name__}: {e}).") from e


class ImageFolderSource(ImageFolder):
    """Classification images in class folders, the layout ImageNet is usually kept in.

    Built on ``torchvision.datasets.ImageFolder`` (its scanning, sorting and extensions), with
    checks up front so a misplaced dataset fails with a message that shows the expected tree.
    Labels are the index of the class folder name in sorted order, so every split other than
    ``train`` must hold exactly the train split's class folders, which is checked when
    ``root/train`` exists.

    Args:
        root: Folder holding the split folders (``train/``, ``val/``).
        split: Name of the split folder under ``root``.
        transform: Optional callable applied to the PIL image.
        bad_images: "error": an unreadable image raises when it is read; "skip": every file is
            verified once here, the bad ones are dropped, logged once and listed in
            ``skipped_files`` (a file that verifies but fails to decode later still raises).

    Returns:
        ``__getitem__`` gives ``(PIL.Image in RGB, int label)``; with ``transform`` the image
        is whatever the transform returns.

    Raises:
        DatasetError: Missing root or split folder, no class folders, class folders without
            images, classes that differ from ``train``; a corrupt image when it is read.
    """

    def __init__(
        self, root: str | Path, split: str = "train", transform: Callable[[Any], Any] | None = None,
        bad_images: BadImagePolicy = "error",
    ) -> None:
        root = Path(root).expanduser()
        split_dir = root / split
        if not root.is_dir():
            raise DatasetError(f"Dataset folder {root} does not exist.\n{imagefolder_layout_help(root)}")
        if not split_dir.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DatasetError(
                f"Split folder {split_dir} does not exist (folders in {root}: {found or 'none'})."
                f"\n{imagefolder_layout_help(root)}"
            )
        self._check_has_class_folders(root, split_dir)
        if split != "train" and (root / "train").is_dir():
            self._check_same_classes(root / "train", split_dir)
        try:
            super().__init__(str(split_dir), transform=transform, loader=_load_rgb)
        except FileNotFoundError as e:  # torchvision: some class folders hold no image file
            raise DatasetError(f"{split_dir}: {e}\n{imagefolder_layout_help(root)}") from e
        #: ``"path: reason"`` of every image dropped by ``bad_images="skip"``.
        self.skipped_files: list[str] = []
        if bad_images == "skip":
            bad = bad_image_files((path for path, _ in self.samples), str(split_dir))
            self.skipped_files = [f"{path}: {reason}" for path, reason in bad.items()]
            self.samples = [s for s in self.samples if s[0] not in bad]
            self.imgs, self.targets = self.samples, [label for _, label in self.samples]

    @staticmethod
    def _check_has_class_folders(root: Path, split_dir: Path) -> None:
        with os.scandir(split_dir) as it:
            entries = list(it)
        if any(e.is_dir() for e in entries):
            return
        n_images = sum(e.name.lower().endswith(IMG_EXTENSIONS) for e in entries)
        hint = (
            f" It holds {n_images} image file(s) directly: labels come from class folders, so "
            f"ImageNet's flat val/ must first be sorted into class folders with valprep.sh "
            f"({_VALPREP})."
            if n_images
            else ""
        )
        raise DatasetError(f"{split_dir} has no class folders.{hint}\n{imagefolder_layout_help(root)}")

    @staticmethod
    def _check_same_classes(train_dir: Path, split_dir: Path) -> None:
        train_classes, _ = find_classes(train_dir)
        classes, _ = find_classes(split_dir)
        if classes == train_classes:
            return
        missing = sorted(set(train_classes) - set(classes))
        extra = sorted(set(classes) - set(train_classes))
        raise DatasetError(
            f"The class folders of {split_dir} ({len(classes)}) differ from those of {train_dir} "
            f"({len(train_classes)}); labels are indices into the sorted class list, so they "
            f"would not match. Missing from {split_dir.name}: {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; not in {train_dir.name}: {extra[:5]}"
            f"{' ...' if len(extra) > 5 else ''}."
        )

    @property
    def num_classes(self) -> int:
        """Number of class folders."""
        return len(self.classes)
