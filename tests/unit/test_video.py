"""Video family: nets' shapes, the clip sampler, frame-folder / UCF101 / HMDB51 sources on fixtures
in their real on-disk layout (tiny JPEGs, tiny real .avi files written with PyAV), bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import video as tvv

from contracts.errors import ConfigError, DatasetError
from datamodules.shapes.clips import MIRRORED, MOTIONS, REVERSED
from datamodules.sources.frame_folder import FrameFolderSource
from datamodules.sources.ucf101 import HMDB51Source, UCF101Source
from datamodules.video import ClipSampler, VideoDataModule
from lit_modules.nets.video import VideoResNet18
from lit_modules.video import VideoModule

ARCHS = ["c3d", "r3d_18", "r2plus1d_18", "single_frame", "late_fusion"]
SMALL = {"width": 0.125, "resnet_width": 8, "hidden": 32, "batch_norm": True, "pool_output": (1, 1, 1)}


@pytest.mark.parametrize("arch", ARCHS)
def test_net_output_shape_and_test_time_averaging(arch):
    m = VideoModule(num_classes=9, arch=arch, num_frames=8, **SMALL).eval()
    clips = torch.randn(2, 3, 8, 32, 32)  # (B, C, T, H, W)
    assert m(clips).shape == (2, 9)
    logp = m._logits(clips.unsqueeze(1).expand(2, 3, 3, 8, 32, 32))  # (B, K, C, T, H, W)
    assert logp.shape == (2, 9) and torch.allclose(logp.exp().sum(-1), torch.ones(2), atol=1e-5)
    assert torch.allclose(logp, m(clips).log_softmax(-1), atol=1e-5)  # K copies average to one clip


def test_c3d_paper_size_and_resnets_match_torchvision():
    m = VideoModule(num_classes=101, arch="c3d", width=0.125, hidden=64)  # the paper's 16x112x112 path
    assert m.net.pool(m.net.features(torch.randn(1, 3, 16, 112, 112))).shape == (1, 64, 1, 4, 4)  # pool5
    n = lambda net: sum(p.numel() for p in net.parameters())
    assert n(VideoResNet18(400, False, 64)) == n(tvv.r3d_18()) == 33_371_472
    assert n(VideoResNet18(400, True, 64)) == n(tvv.r2plus1d_18())


def test_single_frame_is_blind_to_frame_order_but_late_fusion_is_not():
    torch.manual_seed(0)
    clips = torch.randn(2, 3, 8, 32, 32)
    rev = clips.flip(2)  # the same frames played backwards: move_left <-> move_right
    small = SMALL | {"batch_norm": False}
    sf = VideoModule(num_classes=9, arch="single_frame", **small).eval()
    lf = VideoModule(num_classes=9, arch="late_fusion", **small).eval()
    assert torch.allclose(sf(clips), sf(rev), atol=1e-5)
    assert (lf(clips) - lf(rev)).abs().max() > 100 * (sf(clips) - sf(rev)).abs().max() + 1e-6


def test_clip_sampler_stride_length_and_eval_clips():
    torch.manual_seed(0)
    train = ClipSampler(4, stride=3, train=True)
    starts = set()
    for _ in range(50):
        (c,) = train(20)
        assert len(c) == 4 and np.diff(c).tolist() == [3, 3, 3] and 0 <= c[0] and c[-1] < 20
        starts.add(c[0])
    assert len(starts) > 5  # random temporal crops
    assert ClipSampler(4, 3, False, 1)(20) == [[5, 8, 11, 14]]  # centre clip
    three = ClipSampler(4, 3, False, 3)(20)
    assert [c[0] for c in three] == [0, 5, 10] and three[-1][-1] == 19
    assert ClipSampler(4, 3, False)(7) == [[0, 2, 4, 6]]  # too short for stride 3: largest that fits
    with pytest.raises(ValueError, match="fewer than the clip length"):
        ClipSampler(8)(5)


def test_shapes_datamodule_batch_contract_and_crops():
    dm = VideoDataModule(num_frames=6, clip_frames=8, crop_size=24, train_size=16, val_size=8, batch_size=4,
                         test_clips=2, test_crops=3)
    dm.setup("fit")
    clips, labels = next(iter(dm.train_dataloader()))
    assert clips.shape == (4, 3, 6, 24, 24) and clips.dtype == torch.float32 and labels.dtype == torch.int64
    assert next(iter(dm.val_dataloader()))[0].shape == (4, 3, 6, 24, 24)
    assert next(iter(dm.test_dataloader()))[0].shape == (4, 6, 3, 6, 24, 24)  # 2 clips x 3 crops
    assert dm.num_classes == 9 and len(dm.class_names) == 9


def test_motion_subset_sets_the_classes_and_bad_subsets_are_config_errors():
    dm = VideoDataModule(num_frames=4, clip_frames=4, train_size=8, val_size=4, batch_size=4, flip=True,
                         reverse=True, motions=["rotate_cw", "rotate_ccw"])
    dm.setup("fit")
    assert dm.num_classes == 2 and dm.class_names == ["rotate_cw", "rotate_ccw"]
    assert set(next(iter(dm.train_dataloader()))[1].tolist()) <= {0, 1}
    with pytest.raises(ConfigError, match="data.init_args.motions: unknown motion"):
        VideoDataModule(motions=["rotate_cw", "spin"])
    with pytest.raises(ConfigError, match="data.init_args.flip=true needs each motion's counterpart"):
        VideoDataModule(flip=True, motions=["move_left", "still"])
    with pytest.raises(ConfigError, match="motions picks ShapesWorld classes"):
        VideoDataModule(source="frames", root="/nowhere", motions=["rotate_cw", "rotate_ccw"])
    with pytest.raises(ConfigError, match=r"data.init_args.rotation_step=\[0, 5\]: need 0 < low"):
        VideoDataModule(rotation_step=(0, 5))
    fast = VideoDataModule(num_frames=4, clip_frames=4, train_size=8, val_size=4, batch_size=4, rotation_step=[15, 30])
    fast.setup("fit")
    assert fast._train.source.view.rotation_step == (15.0, 30.0)  # reaches the ShapesWorld view


def test_training_flip_and_reversal_relabel_the_clip():
    dm = VideoDataModule(num_frames=6, clip_frames=6, crop_size=32, train_size=24, val_size=4, flip=True,
                         reverse=True)  # whole clips, whole frames: the only randomness is flip/reversal
    dm.setup("fit")
    source, seen = dm._train.source, set()
    torch.manual_seed(0)
    for i in range(len(source)):
        clip, label = dm._train[i]
        orig, y = source.clips[i], source.labels[i]
        options = {("none", y): orig, ("flip", MIRRORED[y]): orig.flip(-1), ("reverse", REVERSED[y]): orig.flip(1),
                   ("both", REVERSED[MIRRORED[y]]): orig.flip(-1).flip(1)}
        match = [k for k, v in options.items() if torch.equal(clip, v) and k[1] == label]
        assert match, f"clip {i} ({MOTIONS[y]}) came back as neither itself nor a relabelled flip/reversal"
        seen.add(match[0][0])
    assert {"flip", "reverse"} <= seen | {"both"} and len(seen) >= 3
    with pytest.raises(ConfigError, match="reverse=true with source='frames'"):
        VideoDataModule(source="frames", root="/nowhere", reverse=True)


def _write_frames(folder: Path, n: int, skip: int | None = None, size=(20, 16)):
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        if i != skip:
            Image.fromarray(np.full((size[1], size[0], 3), i * 10, np.uint8)).save(folder / f"img_{i:05d}.jpg")


def test_frame_folder_source_reads_frames_and_skips_short_videos(tmp_path, caplog):
    _write_frames(tmp_path / "walk" / "v1", 10)
    _write_frames(tmp_path / "walk" / "v2", 3)  # shorter than T=4: counted, logged skip
    _write_frames(tmp_path / "run" / "v3", 6)
    with caplog.at_level(logging.WARNING):
        src = FrameFolderSource(tmp_path, min_frames=4)
    assert len(src) == 2 and src.classes == ["run", "walk"] and src.skipped == ["v2 (3 frames)"]
    assert "skipped 1 video" in caplog.text
    (clip,), label = src.load(1, ClipSampler(4, 2, False))  # walk/v1: centre clip of 10 frames
    assert label == 1 and clip.shape == (3, 4, 16, 20) and clip.dtype == torch.uint8
    assert [int(v) for v in clip[0, :, 8, 8]] == pytest.approx([20, 40, 60, 80], abs=3)  # frames 2,4,6,8


def test_frame_folder_gap_and_empty_fail_clearly(tmp_path):
    _write_frames(tmp_path / "gap" / "walk" / "v1", 6, skip=3)
    with pytest.raises(DatasetError, match=r"v1: frame numbering has gaps \(missing \[3\]"):
        FrameFolderSource(tmp_path / "gap")
    _write_frames(tmp_path / "short" / "walk" / "v1", 2)
    with pytest.raises(DatasetError, match="no video with at least 8 frames"):
        FrameFolderSource(tmp_path / "short", min_frames=8)
    with pytest.raises(DatasetError, match="does not exist"):
        FrameFolderSource(tmp_path / "nowhere")


def _write_avi(path: Path, n: int, shade: int) -> None:
    av = pytest.importorskip("av")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for i in range(n):
            frame = np.full((24, 32, 3), shade, np.uint8)
            frame[:, i % 32] = 255  # a moving bar
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


def _ucf_fixture(root: Path, missing: bool = False) -> None:
    videos = {"ApplyEyeMakeup": ["v_ApplyEyeMakeup_g08_c01.avi", "v_ApplyEyeMakeup_g01_c01.avi"],
              "Archery": ["v_Archery_g08_c01.avi", "v_Archery_g01_c01.avi"]}
    for cls, names in videos.items():
        for k, name in enumerate(names):
            _write_avi(root / cls / name, 12 if k == 0 else 5, shade=60 if cls == "Archery" else 120)
    ann = root / "ucfTrainTestlist"
    ann.mkdir()
    (ann / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    extra = "Archery/v_Archery_g09_c01.avi 2\n" if missing else ""
    (ann / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g08_c01.avi 2\n" + extra)
    (ann / "testlist01.txt").write_text("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nArchery/v_Archery_g01_c01.avi\n")


def test_ucf101_source_decodes_real_avi_files(tmp_path):
    _ucf_fixture(tmp_path)
    train = UCF101Source(tmp_path, "train")
    assert len(train) == 2 and train.classes == ["ApplyEyeMakeup", "Archery"]
    (clip,), label = train.load(1, ClipSampler(8, 1, False))
    assert label == 1 and clip.shape == (3, 8, 24, 32) and clip.dtype == torch.uint8
    assert abs(float(clip[:, :, :, 20].float().mean()) - 60) < 15  # the Archery shade, decoded
    dm = VideoDataModule(source="ucf101", root=str(tmp_path), num_frames=4, stride=2, resize=20, crop_size=16,
                         batch_size=2, test_clips=2, num_workers=0)
    dm.setup("fit")
    clips, labels = next(iter(dm.train_dataloader()))
    assert clips.shape == (2, 3, 4, 16, 16) and sorted(labels.tolist()) == [0, 1]
    assert next(iter(dm.test_dataloader()))[0].shape == (2, 2, 3, 4, 16, 16)


def test_ucf101_bad_input_is_named(tmp_path):
    _ucf_fixture(tmp_path, missing=True)
    with pytest.raises(DatasetError, match=r"trainlist01.txt names 1 video\(s\) that are not on disk.*g09"):
        UCF101Source(tmp_path, "train")
    test = UCF101Source(tmp_path, "test")  # 5-frame videos: shorter than T=8
    with pytest.raises(DatasetError, match=r"v_Archery_g01_c01.avi: has 5 frames, fewer than the clip length T=8"):
        test.load(1, ClipSampler(8))
    (tmp_path / "Archery" / "v_Archery_g01_c01.avi").write_bytes(b"not a video")
    with pytest.raises(DatasetError, match="v_Archery_g01_c01.avi: cannot be decoded"):
        test.load(1, ClipSampler(4))
    with pytest.raises(DatasetError, match="ucfTrainTestlist"):
        VideoDataModule.check_data("ucf101", str(tmp_path / "elsewhere"))


def test_hmdb51_source_reads_official_split_files(tmp_path):
    for cls in ("brush_hair", "cartwheel"):
        _write_avi(tmp_path / cls / f"{cls}_a.avi", 6, 90)
        _write_avi(tmp_path / cls / f"{cls}_b.avi", 6, 90)
        ann = tmp_path / "testTrainMulti_7030_splits"
        ann.mkdir(exist_ok=True)
        (ann / f"{cls}_test_split1.txt").write_text(f"{cls}_a.avi 1\n{cls}_b.avi 2\n{cls}_c.avi 0\n")
    train, test = HMDB51Source(tmp_path, "train"), HMDB51Source(tmp_path, "test")
    assert [p.name for p, _ in train.videos] == ["brush_hair_a.avi", "cartwheel_a.avi"]
    assert [label for _, label in test.videos] == [0, 1]
    assert test.load(0, ClipSampler(4, 1, False))[0][0].shape == (3, 4, 24, 32)


def test_wandb_media_shows_clips_with_labels_and_3d_filters(monkeypatch, tmp_path):
    wandb = pytest.importorskip("wandb")
    from types import SimpleNamespace

    m = VideoModule(num_classes=9, arch="c3d", **SMALL).eval()
    m._trainer = SimpleNamespace(datamodule=SimpleNamespace(class_names=list(VideoDataModule().class_names)))
    clips, labels = torch.randn(3, 3, 8, 32, 32), torch.tensor([0, 1, 8])
    media = m.wandb_media((clips, labels), None)
    assert len(media["val/clips"]) == 3 and all(isinstance(v, wandb.Video) for v in media["val/clips"])
    assert media["val/clips"][0]._caption.startswith("true move_left / pred ")
    assert "val/conv1_filters" in media  # C3D's first conv spans 3 frames
    r21d = VideoModule(num_classes=9, arch="r2plus1d_18", **SMALL).eval()
    r21d._trainer = m._trainer
    assert "val/conv1_filters" not in r21d.wandb_media((clips, labels), None)  # (1,7,7): no time
