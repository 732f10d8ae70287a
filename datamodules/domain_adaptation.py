"""Two domains with the same classes: labelled source, unlabelled target (domain adaptation, DANN).

Batch contract:

* training: ``(source_images, source_labels, target_images, target_labels)``, images float
  ``(B, 3, H, W)`` normalised, labels int64 ``(B,)``. The target labels are there for the
  target-oracle baseline only; an adaptation method must not read them.
* validation/test: ``(images, labels, domains)`` over the source's and the target's validation
  split together, ``domains`` int64 ``(B,)`` with 0 = source, 1 = target.

Sources: ``shapes`` (two ShapesWorld worlds, ``source_world`` and ``target_world``: same kinds,
other backgrounds, colours or seeds), ``office31`` (two of amazon / dslr / webcam) and
``mnist_mnistm`` (MNIST -> MNIST-M, the latter as a folder; ``experiments/dann_data.py`` builds it).
Office-31 has no official split: as in the paper, the target's whole set is both the
unlabelled training target and the evaluation set.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset
from torchvision.transforms import v2

from contracts.errors import DatasetError
from datamodules.base import SHAPES_STATS, FamilyDataModule, Mapped, Split, rendered_pairs
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.views import ShapesClassification
from datamodules.sources.imagefolder import ImageFolderSource
from datamodules.sources.mnist import MNISTSource, mnist_layout_help, mnist_raw_folder
from datamodules.transforms import IMAGENET_MEAN, IMAGENET_STD

DASource = Literal["shapes", "office31", "mnist_mnistm"]
OFFICE_DOMAINS = ("amazon", "dslr", "webcam")


def office31_layout_help(root: Path) -> str:
    return (f"Expected Office-31 (Saenko et al. 2010) as extracted from office31.tar.gz:\n"
            f"  {root}/amazon/images/<class>/*.jpg   (31 class folders: back_pack, bike, ...)\n"
            f"  {root}/dslr/images/<class>/*.jpg\n  {root}/webcam/images/<class>/*.jpg\n"
            "Get it from https://faculty.cc.gatech.edu/~judy/domainadapt/ (the 'Office' dataset).")


def mnistm_layout_help(root: Path) -> str:
    return (f"Expected MNIST-M as class folders beside MNIST:\n  {root}/mnist_m/train/<digit 0-9>/*.png\n"
            f"  {root}/mnist_m/test/<digit 0-9>/*.png\nand MNIST's idx files under {root}/MNIST/raw/.\n"
            f"Build MNIST-M (Ganin & Lempitsky 2015: each digit blended as |patch - digit| with a random "
            f"crop of a BSDS500 colour photo): python experiments/dann_data.py --mnist {root} "
            f"--bsds <BSR/BSDS500/data/images> --out {root}/mnist_m")


class PairedDomains(Dataset):
    """Source sample ``i`` with target sample ``i mod len(target)``: ``(xs, ys, xt, yt)``."""

    def __init__(self, source: Dataset, target: Dataset) -> None:
        self.source, self.target = source, target

    def __len__(self) -> int:
        return len(self.source)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple:
        xs, ys = self.source[i]
        xt, yt = self.target[i % len(self.target)]  # type: ignore[arg-type]
        return xs, ys, xt, yt


class TaggedDomains(Dataset):
    """Both domains' samples, interleaved (source, target, source, ...; the longer one's rest at the end),
    each as ``(x, y, domain)`` with 0 = source, 1 = target: every evaluation batch holds both."""

    def __init__(self, source: Dataset, target: Dataset) -> None:
        self.parts = (source, target)
        self.sizes = (len(source), len(target))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return sum(self.sizes)

    def __getitem__(self, i: int) -> tuple:
        both = 2 * min(self.sizes)
        if i < both:
            d, j = i % 2, i // 2
        else:
            d = int(self.sizes[1] > self.sizes[0])
            j = i - both + min(self.sizes)
        x, y = self.parts[d][j]
        return x, y, d


class _Normalize:
    """Collate: uint8 images -> normalised float; ints -> int64 tensors (either batch contract)."""

    def __init__(self, mean, std) -> None:
        self.mean = torch.tensor(mean).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std).view(1, -1, 1, 1) * 255

    def __call__(self, samples: list[tuple]) -> tuple:
        out = []
        for field in zip(*samples, strict=True):
            if isinstance(field[0], torch.Tensor) and field[0].ndim >= 2:
                images = torch.stack(field).float()  # (B, 3, H, W)
                out.append((images - self.mean) / self.std)
            else:
                out.append(torch.tensor([int(v) for v in field], dtype=torch.long))
        return tuple(out)


def _uint8_rgb(size: int) -> v2.Compose:
    """Any image -> uint8 (3, size, size); grayscale repeated over 3 channels (MNIST beside MNIST-M)."""
    return v2.Compose([v2.ToImage(), v2.Resize((size, size), antialias=True),
                       v2.Lambda(lambda t: t.expand(3, -1, -1) if t.shape[0] == 1 else t)])


class DomainAdaptationDataModule(FamilyDataModule):
    """Labelled source and unlabelled target domains with the same classes.

    Args:
        source: "shapes", "office31" or "mnist_mnistm".
        root: dataset folder of the on-disk sources (layouts in the errors and the module docstring).
        image_size: network input side (ShapesWorld worlds must render at it).
        source_domain: Office-31 source domain (amazon, dslr, webcam).
        target_domain: Office-31 target domain.
        batch_size: per-process batch size of each domain (a training step sees 2 x batch_size images).
        eval_batch_size: per-process batch size for val/test (defaults to ``batch_size``).
        num_workers: loader processes; -1 picks one per spare core (0 for ShapesWorld).
        source_world: ShapesWorld settings of the source domain.
        target_world: ShapesWorld settings of the target domain (same kinds, a shift elsewhere).
        train_size: ShapesWorld training samples per domain.
        val_size: ShapesWorld validation samples per domain.
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld", "office31": "Office-31",
                                               "mnist_mnistm": "MNIST->MNIST-M"}
    shapes_description: ClassVar[str] = "ShapesWorld domain pair"

    def __init__(
        self,
        source: DASource = "shapes",
        root: str | None = None,
        image_size: int = 32,
        source_domain: Literal["amazon", "dslr", "webcam"] = "amazon",
        target_domain: Literal["amazon", "dslr", "webcam"] = "webcam",
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        source_world: WorldConfig = WorldConfig(image_size=32, background="flat"),  # noqa: B008
        target_world: WorldConfig = WorldConfig(image_size=32, background="texture", seed=1),  # noqa: B008
        train_size: PositiveInt = 8000,
        val_size: PositiveInt = 1000,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        shapes = source == "shapes"
        self.worlds = (as_world(source_world, image_size if shapes else None),
                       as_world(target_world, image_size if shapes else None))
        self.check_data(source, root, source_domain=source_domain, target_domain=target_domain)
        self.num_classes: int | None = {"shapes": len(self.worlds[0].kinds), "office31": 31,
                                        "mnist_mnistm": 10}[source]
        if shapes and self.worlds[0].kinds != self.worlds[1].kinds:
            from contracts.errors import ConfigError
            raise ConfigError("data.init_args.target_world.kinds must equal source_world.kinds "
                              f"(the label sets are shared): {self.worlds[1].kinds} vs {self.worlds[0].kinds}")

    @classmethod
    def _check_source(cls, source: str, root: str | None, source_domain: str = "amazon",
                      target_domain: str = "webcam", **_: object) -> None:
        path = Path(root or "data")
        if source == "office31":
            missing = [d for d in (source_domain, target_domain) if not (path / d / "images").is_dir()]
            if not root or missing:
                raise DatasetError(f"data.init_args.root={root!r} has no {', '.join(f'{d}/images/' for d in missing)}"
                                   f"\n{office31_layout_help(path)}")
        elif source == "mnist_mnistm":
            if not root or mnist_raw_folder(root) is None:
                raise DatasetError(f"data.init_args.root={root!r} holds no MNIST idx files.\n{mnist_layout_help(path)}")
            if not (path / "mnist_m" / "train").is_dir():
                raise DatasetError(f"data.init_args.root={root!r} has no mnist_m/train/.\n{mnistm_layout_help(path)}")

    def _domains(self, train: bool) -> tuple[Dataset, Dataset]:
        h = self.hparams
        split, n = ("train", h.train_size) if train else ("val", h.val_size)
        if h.source == "shapes":
            return tuple(rendered_pairs(ShapesClassification(split, n, w)) for w in self.worlds)  # type: ignore[return-value]
        rgb = _uint8_rgb(h.image_size)
        if h.source == "office31":
            root = Path(h.root)
            src = ImageFolderSource(root / h.source_domain, "images")
            tgt = ImageFolderSource(root / h.target_domain, "images")
            return Mapped(src, rgb, on="image"), Mapped(tgt, rgb, on="image")  # val: source = its training set
        mnist = MNISTSource(h.root, "train" if train else "test")
        mnistm = ImageFolderSource(Path(h.root) / "mnist_m", "train" if train else "test")
        return Mapped(mnist, rgb, on="image"), Mapped(mnistm, rgb, on="image")

    def _split(self, split: Split) -> Dataset | None:
        if split == "test":
            return None
        source, target = self._domains(split == "train")
        return PairedDomains(source, target) if split == "train" else TaggedDomains(source, target)

    def collate_fn(self, ds: Dataset, train: bool) -> _Normalize:
        mean, std = SHAPES_STATS if self.hparams.source != "office31" else (IMAGENET_MEAN, IMAGENET_STD)
        return _Normalize(mean, std)

    @property
    def class_names(self) -> list[str] | None:
        return list(self.worlds[0].kinds) if self.hparams.source == "shapes" else None
