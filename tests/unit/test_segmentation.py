"""U-Net net, Dice loss, boundary metric, and the segmentation sources on fixtures written in
their real on-disk formats (VOC palette PNG, Carvana GIF, Pet trimap PNG + split files)."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from contracts.errors import DatasetError
from datamodules.segmentation import SegmentationDataModule
from datamodules.sources.segmentation import CarvanaSegmentation, PetSegmentation, VOCSegmentation
from lit_modules.losses.dice import dice_loss
from lit_modules.metrics.boundary import BoundaryAccuracy, boundary_band
from lit_modules.nets.unet import UNet


@pytest.mark.parametrize("skips", [True, False])
@pytest.mark.parametrize("up", ["transpose", "bilinear"])
def test_unet_keeps_the_input_size(skips, up):
    net = UNet(5, depth=2, width=4, up=up, skips=skips)
    assert net(torch.randn(2, 3, 24, 32)).shape == (2, 5, 24, 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(torch.randn(1, 3, 30, 32))


def test_unet_skips_change_what_the_decoder_sees():
    # With skips the decoder's first conv takes encoder + up-sampled channels; without, only the latter.
    assert UNet(3, depth=2, width=4, skips=True).dec[-1][0].in_channels == 8
    assert UNet(3, depth=2, width=4, skips=False).dec[-1][0].in_channels == 4


def test_dice_loss_properties():
    gen = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (2, 16, 16), generator=gen)
    perfect = F.one_hot(target, 4).permute(0, 3, 1, 2).float() * 50
    assert float(dice_loss(perfect, target)) < 1e-3
    logits = torch.randn(2, 4, 16, 16, generator=gen)
    loss = dice_loss(logits, target)
    assert 0 < float(loss) < 1
    assert float(dice_loss(-perfect, target)) > 0.9  # all mass on wrong classes
    # ignored pixels do not count, whatever the logits say there
    ignored = target.clone()
    ignored[:, :4] = 255
    changed = logits.clone()
    changed[:, :, :4] = torch.randn(2, 4, 4, 16, generator=gen) * 10
    torch.testing.assert_close(dice_loss(logits, ignored), dice_loss(changed, ignored))
    changed.requires_grad_(True)
    dice_loss(changed, ignored).backward()
    assert changed.grad[:, :, :4].abs().max() == 0


def test_boundary_band_and_accuracy():
    target = torch.zeros(1, 12, 12, dtype=torch.long)
    target[0, 4:8, 4:8] = 1
    band = boundary_band(target, 1)
    # 1 px either side of the square's edge; neither the far background nor the interior
    assert band[0, 3, 4] and band[0, 4, 4] and band[0, 7, 7] and band[0, 8, 7]
    assert not band[0, 0, 0] and not band[0, 5, 5] and not band[0, 6, 6]
    m = BoundaryAccuracy(width=1)
    m.update(target.clone(), target)
    assert float(m.compute()) == 1.0
    eroded = torch.zeros_like(target)
    eroded[0, 5:7, 5:7] = 1  # right interior, wrong edges
    m2 = BoundaryAccuracy(width=1)
    m2.update(eroded, target)
    assert 0 < float(m2.compute()) < 0.8
    # summed states: two halves give the same as one batch (what DDP's sum reduction relies on)
    m3 = BoundaryAccuracy(width=1)
    m3.update(eroded, target)
    m3.update(target.clone(), target)
    assert float(m3.compute()) == pytest.approx((float(m2.correct) + float(band.sum())) / (2 * float(band.sum())))


# --- fixtures in the real formats ---------------------------------------------------------------

def _jpg(path: Path, w: int = 20, h: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)).save(path)


def _palette_png(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(mask.astype(np.uint8), mode="P")
    palette = np.zeros((256, 3), np.uint8)
    palette[1:21] = np.random.default_rng(1).integers(0, 255, (20, 3))
    palette[255] = (224, 224, 192)  # VOC's void colour
    im.putpalette(palette.ravel().tolist())
    im.save(path)


def _voc(root: Path, mask: np.ndarray) -> Path:
    _jpg(root / "JPEGImages" / "2007_000032.jpg")
    _palette_png(root / "SegmentationClass" / "2007_000032.png", mask)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000032\n")
    return root


def test_voc_reads_palette_indices_not_colours(tmp_path):
    mask = np.zeros((16, 20), np.uint8)
    mask[2:8, 3:9] = 15  # person
    mask[2:8, 9] = 255   # void border
    image, target = VOCSegmentation(_voc(tmp_path, mask), "train")[0]
    assert image.shape == (3, 16, 20) and image.dtype == torch.uint8
    assert target.dtype == torch.int64 and set(target.unique().tolist()) == {0, 15, 255}
    assert VOCSegmentation.classes[15] == "person"


def test_voc_bad_input_names_the_file(tmp_path):
    bad = np.zeros((16, 20), np.uint8)
    bad[0, 0] = 30  # no class 30 in VOC
    with pytest.raises(DatasetError, match=r"2007_000032\.png.*30"):
        VOCSegmentation(_voc(tmp_path / "a", bad), "train")[0]
    root = _voc(tmp_path / "b", np.zeros((10, 10), np.uint8))  # mask smaller than the image
    with pytest.raises(DatasetError, match=r"2007_000032\.png: mask is 10x10 px but its image is 20x16"):
        VOCSegmentation(root, "train")[0]
    with pytest.raises(DatasetError, match=r"val\.txt: split file is missing"):
        VOCSegmentation(root, "val")


def test_carvana_gif_masks_and_car_level_split(tmp_path):
    for car in ("00087a6bd4dc", "02159e548029", "0495dcf27283"):
        for angle in ("01", "02"):
            _jpg(tmp_path / "train" / f"{car}_{angle}.jpg")
            m = np.zeros((16, 20), np.uint8)
            m[4:12, 5:15] = 1
            (tmp_path / "train_masks").mkdir(exist_ok=True)
            Image.fromarray(m, mode="P").save(tmp_path / "train_masks" / f"{car}_{angle}_mask.gif")
    train, val = (CarvanaSegmentation(tmp_path, s, val_fraction=0.5) for s in ("train", "val"))
    assert len(train) + len(val) == 6
    cars = lambda ds: {p.stem.rsplit("_", 1)[0] for p in ds.images}
    assert not cars(train) & cars(val)  # both angles of a car stay together
    _, mask = (train if len(train) else val)[0]
    assert set(mask.unique().tolist()) == {0, 1} and int(mask.sum()) == 80


def test_pets_trimap_border_is_ignored(tmp_path):
    _jpg(tmp_path / "images" / "Abyssinian_1.jpg")
    tri = np.full((16, 20), 2, np.uint8)  # background
    tri[4:12, 5:15] = 3                   # border band
    tri[5:11, 6:14] = 1                   # pet
    (tmp_path / "annotations" / "trimaps").mkdir(parents=True)
    Image.fromarray(tri).save(tmp_path / "annotations" / "trimaps" / "Abyssinian_1.png")
    (tmp_path / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 1 1\n")
    _, mask = PetSegmentation(tmp_path, "trainval")[0]
    assert int((mask == 1).sum()) == 48 and int((mask == 255).sum()) == 80 - 48 and int((mask == 0).sum()) == 320 - 80
    with pytest.raises(DatasetError, match=r"test\.txt: split file is missing"):
        PetSegmentation(tmp_path, "test")


@pytest.mark.parametrize("source,missing", [("voc", "SegmentationClass"), ("carvana", "train_masks"),
                                            ("pets", "trimaps")])
def test_paper_sources_fail_fast_with_the_layout(tmp_path, source, missing):
    with pytest.raises(DatasetError, match=f"{missing}.*\n.*Expected"):
        SegmentationDataModule(source=source, root=str(tmp_path))


def test_shapes_batch_contract_and_flip_moves_masks_with_pixels():
    dm = SegmentationDataModule(image_size=32, world={"image_size": 32}, train_size=8, val_size=4, batch_size=4)
    dm.setup("fit")
    images, masks = next(iter(dm.train_dataloader()))
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32
    assert masks.shape == (4, 32, 32) and masks.dtype == torch.int64
    assert int(masks.max()) < dm.num_classes == 9
    # the augmentation flips image and mask together: each sample is the cached scene or its mirror
    raw = dm._train.base
    for _ in range(4):
        image, mask = dm._train[0]
        ref_image, ref_mask = raw[0]
        flipped = torch.equal(image, ref_image.flip(-1))
        assert flipped or torch.equal(image, ref_image)
        assert torch.equal(mask, ref_mask.flip(-1) if flipped else ref_mask)


def test_on_disk_resized_crop_keeps_masks_aligned(tmp_path):
    # The image's red channel encodes the mask: after crop + resize the nearest-neighbour mask
    # must still match the (bilinear) image away from edges.
    root = tmp_path
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    for split in ("train", "val"):
        (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("a\n")
    mask = np.zeros((64, 80), np.uint8)
    mask[10:50, 20:60] = 1
    rgb = np.zeros((64, 80, 3), np.uint8)
    rgb[..., 0] = mask * 255
    (root / "JPEGImages").mkdir()
    Image.fromarray(rgb).save(root / "JPEGImages" / "a.jpg", quality=100)
    _palette_png(root / "SegmentationClass" / "a.png", mask)
    dm = SegmentationDataModule(source="voc", root=str(root), image_size=32)
    dm.setup("fit")
    torch.manual_seed(0)
    for _ in range(5):
        image, target = dm._train[0]
        assert image.shape == (3, 32, 32) and target.shape == (32, 32)
        agree = ((image[0] > 127).long() == target).float().mean()
        assert agree > 0.9
