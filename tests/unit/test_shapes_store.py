"""The on-disk cache of rendered ShapesWorld views: same samples, read back, keyed by every setting."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from datamodules.shapes import store
from datamodules.shapes.captions import ShapesCaptions
from datamodules.shapes.clips import ShapesClips
from datamodules.shapes.scene import WorldConfig
from datamodules.shapes.store import CACHE_ENV, render_columns, view_key
from datamodules.shapes.views import ShapesClassification

WORLD = WorldConfig(image_size=24)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    return tmp_path / "shapes"


def _forbid_rendering(monkeypatch, cls) -> None:
    def fail(self, index):
        raise AssertionError("rendered although the cache holds this view")

    monkeypatch.setattr(cls, "__getitem__", fail)


def test_second_read_comes_from_disk_and_equals_rendering(cache, monkeypatch):
    view = ShapesClassification("train", 12, WORLD)
    images, labels = render_columns(view)
    assert images.shape == (12, 3, 24, 24) and images.dtype == torch.uint8  # stacked: one record on disk
    assert labels == [view[i][1] for i in range(12)]
    assert torch.equal(images[5], view[5][0])
    assert len(list(cache.glob("*.pt"))) == 1
    _forbid_rendering(monkeypatch, ShapesClassification)
    again = render_columns(ShapesClassification("train", 12, WORLD))
    assert torch.equal(again[0], images) and again[1] == labels


def test_every_setting_is_part_of_the_key(cache):
    base = view_key(ShapesClassification("train", 12, WORLD))
    others = [
        ShapesClassification("val", 12, WORLD),
        ShapesClassification("train", 13, WORLD),
        ShapesClassification("train", 12, WorldConfig(image_size=24, seed=1)),
        ShapesClassification("train", 12, WorldConfig(image_size=24, background="flat")),
    ]
    keys = {view_key(v) for v in others}
    assert base not in keys and len(keys) == len(others)
    clips = [ShapesClips("train", 4, WORLD, num_frames=n) for n in (4, 6)]  # a view argument, not the world
    assert view_key(clips[0]) != view_key(clips[1])


def test_key_is_the_same_in_a_fresh_process():
    """Keys come from reprs; one that changed between processes (an address, a set order) would never hit."""
    code = ("from datamodules.shapes.store import view_key; from datamodules.shapes.captions import ShapesCaptions;"
            "from datamodules.shapes.scene import WorldConfig; "
            "print(view_key(ShapesCaptions('val', 5, WorldConfig(image_size=24))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == view_key(ShapesCaptions("val", 5, WorldConfig(image_size=24)))


def test_views_with_a_transform_or_caching_off_are_rendered_each_time(cache, monkeypatch):
    flipped = ShapesClassification("train", 6, WORLD, transform=lambda im: im.flip(-1))
    assert view_key(flipped) is None
    render_columns(flipped)
    monkeypatch.setenv(CACHE_ENV, "off")
    assert store.cache_dir() is None
    render_columns(ShapesClassification("train", 6, WORLD))
    assert not cache.exists()


def test_unreadable_file_is_rendered_again_and_replaced(cache):
    view = ShapesCaptions("val", 5, WORLD)
    images, captions = render_columns(view)
    assert isinstance(captions[0], list) and isinstance(captions[0][0], str)  # lists stay lists
    (path,) = cache.glob("*.pt")
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="could not be read"):
        again = render_columns(view)
    assert torch.equal(again[0], images) and again[1] == captions
    assert torch.equal(torch.load(path, weights_only=True)[0], images)  # rewritten whole
    assert not list(cache.glob("*.tmp"))


def test_unwritable_folder_warns_and_still_returns_the_samples(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker))  # a file where the folder should be
    with pytest.warns(UserWarning, match="not written"):
        images, _ = render_columns(ShapesClassification("train", 3, WORLD))
    assert len(images) == 3


def test_empty_view_has_no_columns(cache):
    assert render_columns(ShapesClassification("val", 0, WORLD)) == ()
