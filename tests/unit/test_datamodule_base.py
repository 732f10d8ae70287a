"""The one datamodule skeleton (datamodules.base): what every family inherits from it."""

import inspect

import pytest
import torch
from torch.utils.data import TensorDataset

from contracts.errors import DatasetError
from datamodules.base import FamilyDataModule, Mapped, rendered_pairs
from datamodules.captioning import CaptioningDataModule
from datamodules.classification import ClassificationDataModule
from datamodules.detection import DetectionDataModule
from datamodules.generation import GenerationDataModule
from datamodules.pixels import PixelNormalize
from datamodules.pose import PoseDataModule
from datamodules.segmentation import SegmentationDataModule
from datamodules.shapes.scene import WorldConfig
from datamodules.shapes.views import ShapesClassification
from datamodules.ssl import SSLDataModule
from datamodules.video import VideoDataModule

FAMILIES = [CaptioningDataModule, ClassificationDataModule, DetectionDataModule, GenerationDataModule,
            PoseDataModule, SegmentationDataModule, SSLDataModule, VideoDataModule]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_a_family_datamodule_with_its_args_documented_on_itself(family):
    assert issubclass(family, FamilyDataModule)
    # LightningCLI reads each init arg's help from the Args section of the class that declares it
    doc = family.__doc__ or ""
    for name in inspect.signature(family.__init__).parameters:
        if name != "self":
            assert f"\n        {name}:" in doc, f"{family.__name__}: {name} not in its Args docstring"


@pytest.mark.parametrize("family", FAMILIES)
def test_check_data_passes_shapes_and_names_the_layout_of_a_missing_dataset(family, tmp_path):
    family.check_data(source="shapes", root=None)  # generated: nothing to check
    source = inspect.getmodule(family).Source  # the family's Literal of sources
    disk = next(s for s in source.__args__ if s != "shapes")
    with pytest.raises(DatasetError, match="data.init_args"):
        family.check_data(source=disk, root=str(tmp_path / "missing"), karpathy_file=str(tmp_path / "k.json"))


def test_report_names_never_call_shapesworld_a_paper_dataset():
    dm = GenerationDataModule(train_size=4, val_size=2)
    assert dm.describe() == "ShapesWorld 32 px" and dm.dataset_name == "ShapesWorld"
    folder = GenerationDataModule.__new__(GenerationDataModule)  # names without building the data
    folder._hparams = type(dm.hparams)({"source": "imagefolder", "root": "/data/faces"})
    assert folder.dataset_name == "faces" and folder.describe() == "imagefolder at /data/faces"


def test_mapped_transforms_the_sample_or_only_its_image():
    base = TensorDataset(torch.arange(3), torch.tensor([10, 11, 12]))
    assert Mapped(base, lambda x, y: (y, x))[1] == (torch.tensor(11), torch.tensor(1))
    image_only = Mapped(base, lambda x: x * 2, on="image")
    assert len(image_only) == 3 and image_only[2] == (torch.tensor(4), torch.tensor(12))


def test_rendered_pairs_serve_the_views_samples():
    view = ShapesClassification("val", 5, WorldConfig(image_size=32))
    ds = rendered_pairs(view)
    assert ds.num_classes == view.num_classes
    for i in range(5):
        image, label = view[i]
        assert torch.equal(ds[i][0], image) and int(ds[i][1]) == label and ds[i][1].dtype == torch.int64


def test_setup_builds_each_split_once_and_test_serves_val_unless_the_family_has_one():
    dm = SegmentationDataModule(image_size=32, world={"image_size": 32}, train_size=4, val_size=2, num_workers=0)
    dm.setup("validate")
    assert dm._train is None and dm._val is not None  # only fit builds the training split
    val = dm._val
    dm.setup("fit")
    assert dm._val is val and dm._train is not None
    assert dm.test_dataloader().dataset is val
    loader = dm.train_dataloader()
    assert loader.num_workers == 0 and loader.drop_last and not loader.persistent_workers


def test_pixel_normalize_matches_per_channel_arithmetic_for_images_and_clips():
    mean, std = (0.1, 0.5, 0.9), (0.2, 0.25, 0.5)
    images = torch.randint(0, 256, (2, 3, 4, 5), dtype=torch.uint8)
    clips = torch.randint(0, 256, (2, 3, 6, 4, 5), dtype=torch.uint8)
    for x, dim in ((images, -3), (clips, -4)):
        out = PixelNormalize(mean, std, channel_dim=dim)(x)
        for c in range(3):
            expected = (x[:, c].float() / 255 - mean[c]) / std[c]
            assert torch.allclose(out[:, c], expected, atol=1e-5)
