"""Optical flow (Farnebäck, quantised cache, resumable extraction, refusal of other settings) and the
two-stream net: its input split, fusions, cross-modality initialisation, the datamodule's rgb+flow clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from contracts.errors import ConfigError, DatasetError
from datamodules.flow import (
    FlowFolder,
    FlowSettings,
    dequantise,
    extract,
    farneback,
    quantise,
    shapes_flow,
)
from datamodules.sources.frame_folder import FrameFolderSource
from datamodules.video import VideoDataModule
from lit_modules.nets.two_stream import TwoStream, cross_modality_init
from lit_modules.two_stream import TwoStreamModule


def _moving_square(dx: int = 2, t: int = 4, size: int = 32) -> torch.Tensor:
    """A textured square moving ``dx`` px a frame to the right: uint8 (3, T, H, W)."""
    rng = np.random.default_rng(0)
    patch = rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)
    frames = np.full((t, size, size, 3), 60, np.uint8)
    for f in range(t):
        frames[f, 11:21, 6 + f * dx:16 + f * dx] = patch
    return torch.from_numpy(frames).permute(3, 0, 1, 2)


def test_farneback_sees_the_motion_and_quantisation_round_trips():
    flow = farneback(_moving_square(dx=2))  # (2, T-1, H, W)
    assert flow.shape == (2, 3, 32, 32) and flow.dtype == np.float32
    inside = flow[:, :, 13:19, 10:16]  # the square's middle
    assert 1.5 < float(np.median(inside[0])) < 2.5 and abs(float(np.median(inside[1]))) < 0.3
    s = FlowSettings(bound=4.0)
    q = quantise(flow, s.bound)
    assert q.dtype == np.uint8 and q.min() >= 0 and q.max() <= 255
    back = dequantise(q, s.bound)
    assert np.abs(back - np.clip(flow, -4, 4)).max() <= 0.5 / s.scale + 1e-6  # half a quantisation step
    assert np.allclose(dequantise(255 - q, s.bound), -back, atol=1e-5)  # a mirror (dx -> -dx) is 255 - q, exactly


def test_shapes_flow_cache_round_trip_and_refusal(tmp_path):
    clips = torch.stack([_moving_square(1), _moving_square(2)])  # (N, 3, T, H, W)
    path, view = tmp_path / "ShapesClips-train-2.pt", {"split": "train", "size": 2, "view_key": "abc"}
    flow, seconds = shapes_flow(clips, view, FlowSettings(), path)
    assert flow.shape == (2, 2, 3, 32, 32) and flow.dtype == torch.uint8 and seconds > 0 and path.is_file()
    again, seconds2 = shapes_flow(clips, view, FlowSettings(), path)
    assert seconds2 == 0.0 and torch.equal(again, flow)  # read back, not recomputed
    with pytest.raises(DatasetError, match=r"other settings \(flow.bound differ\)") as e:
        shapes_flow(clips, view, FlowSettings(bound=8.0), path)
    assert '"bound": 4.0' in str(e.value) and '"bound": 8.0' in str(e.value)  # names both
    with pytest.raises(DatasetError, match=r"view.view_key differ"):
        shapes_flow(clips, view | {"view_key": "other world"}, FlowSettings(), path)


def _write_video(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    clip = _moving_square(1, n).permute(1, 2, 3, 0).numpy()  # (T, H, W, 3)
    for i in range(n):
        Image.fromarray(clip[i]).save(folder / f"img_{i + 1:05d}.jpg", quality=95)


def test_frame_folder_flow_extraction_resumes_reports_and_refuses(tmp_path):
    _write_video(tmp_path / "frames" / "walk" / "v1", 5)
    _write_video(tmp_path / "frames" / "run" / "v2", 4)
    src = FrameFolderSource(tmp_path / "frames", min_frames=2)
    out = tmp_path / "flow"
    first = extract(src, out)
    assert first["extracted"] == 2 and first["done_before"] == 0 and first["seconds"] >= 0
    assert (out / "walk" / "v1" / "flow_x_00004.jpg").is_file() and not (out / "walk" / "v1" / "flow_x_00005.jpg").exists()
    assert json.loads((out / "flow_settings.json").read_text())["scale"] == pytest.approx(255 / 8)
    (out / "run" / "v2" / ".done").unlink()  # an extraction stopped inside this video
    second = extract(src, out)
    assert second["done_before"] == 1 and second["extracted"] == 1  # resumes: only the unfinished one
    folder = FlowFolder(src, out, FlowSettings())
    i = src.classes.index("walk") if src.videos[0][0].parent.name == "walk" else 1
    assert folder.count(i) == 4 and folder.frames(i, [0, 2]).shape == (2, 2, 32, 32)
    with pytest.raises(DatasetError, match="flow cache made with other settings"):
        FlowFolder(src, out, FlowSettings(winsize=15))
    with pytest.raises(DatasetError, match="flow cache made with other settings"):
        extract(src, out, FlowSettings(levels=3))


def test_datamodule_rgb_flow_clips_flip_negates_dx_and_bad_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path))
    dm = VideoDataModule(num_frames=4, clip_frames=6, crop_size=32, train_size=8, val_size=4, batch_size=4,
                         modality="rgb+flow", test_clips=2, test_crops=10)
    dm.setup("fit")
    clips, _ = next(iter(dm.train_dataloader()))
    assert clips.shape == (4, 5, 4, 32, 32) and clips[:, 3:].abs().max() <= 1.0
    assert list((tmp_path / "flow").glob("ShapesClips-train-8-*.pt"))  # cached under $PAPERLAB_CACHE/flow
    assert dm.flow_seconds > 0
    mirrored = dm._train._mirror(dm._train.source.load(0, lambda n: [list(range(4))])[0][0])
    orig = dm._train.source.load(0, lambda n: [list(range(4))])[0][0]
    assert torch.equal(mirrored[3], 255 - orig[3].flip(-1)) and torch.equal(mirrored[4], orig[4].flip(-1))
    assert torch.equal(mirrored[:3], orig[:3].flip(-1))
    with pytest.raises(ConfigError, match="clip_frames=8 gives 7 flow frames, fewer than num_frames=8"):
        VideoDataModule(modality="rgb+flow", num_frames=8, clip_frames=8)
    with pytest.raises(ConfigError, match="reversed clip's flow"):
        VideoDataModule(modality="flow", reverse=True)
    with pytest.raises(ConfigError, match="needs data.init_args.flow_dir"):
        VideoDataModule(source="frames", root="/nowhere", modality="rgb+flow")


def test_ten_crop_test_protocol_shapes(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERLAB_CACHE", str(tmp_path))
    dm = VideoDataModule(num_frames=4, clip_frames=6, crop_size=24, train_size=4, val_size=4, batch_size=4,
                         modality="flow", test_clips=2, test_crops=10)
    dm.setup("test")
    assert next(iter(dm.test_dataloader()))[0].shape == (4, 20, 2, 4, 24, 24)  # 2 clips x 10 crops, 2 planes


@pytest.mark.parametrize("fusion", ["average", "svm", "conv"])
def test_two_stream_shapes_and_losses(fusion):
    torch.manual_seed(0)
    net = TwoStream(9, flow_frames=4, width=0.125, fusion=fusion, dropout=0.0)
    clips, labels = torch.randn(3, 5, 4, 32, 32), torch.tensor([0, 4, 8])
    logits = net.stream_logits(clips)
    assert set(logits) == ({"spatial", "temporal", "fused"} if fusion == "conv" else {"spatial", "temporal"})
    assert all(v.shape == (3, 9) for v in logits.values()) and net(clips).shape == (3, 9)
    loss = net.loss(logits, labels)
    loss.backward()
    assert loss.ndim == 0 and all(p.grad is not None for p in net.temporal.parameters())
    if fusion == "average":  # averaged softmax, as log-probabilities
        probs = (logits["spatial"].softmax(-1) + logits["temporal"].softmax(-1)) / 2
        assert torch.allclose(net(clips).exp(), probs, atol=1e-5)


def test_two_stream_input_split_and_single_streams():
    net = TwoStream(2, flow_frames=3, width=0.125, streams="temporal").eval()
    clips = torch.zeros(1, 5, 3, 8, 8)
    clips[:, 3, 1] = 7.0  # dx of flow frame 2
    rgb, flow = net.split(clips)
    assert rgb.shape == (1, 3, 8, 8) and flow.shape == (1, 6, 8, 8)
    assert flow[0, 2].eq(7).all() and flow[0, [0, 1, 3, 4, 5]].eq(0).all()  # planes x1 y1 x2 y2 x3 y3
    assert net.spatial is None and set(net.stream_logits(clips)) == {"temporal"}
    with pytest.raises(ValueError, match="rgb\\+flow clips"):
        net(torch.zeros(1, 3, 3, 8, 8))


def test_cross_modality_init_averages_rgb_weights_over_every_flow_plane():
    torch.manual_seed(0)
    rgb = nn.Conv2d(3, 4, 3, padding=1)
    flow = cross_modality_init(rgb, 6)
    assert flow.weight.shape == (4, 6, 3, 3)
    assert torch.allclose(flow.weight[:, 5], rgb.weight.mean(1)) and torch.equal(flow.bias, rgb.bias)
    spatial = TwoStream(3, flow_frames=2, width=0.125).spatial.state_dict()
    net = TwoStream(3, flow_frames=2, width=0.125, rgb_state=spatial)
    assert torch.allclose(net.temporal.features[0].weight[:, 0], spatial["features.0.weight"].mean(1))
    assert torch.equal(net.temporal.features[4].weight, spatial["features.4.weight"])  # the rest copied


def test_module_refuses_rgb_only_data():
    m = TwoStreamModule(num_classes=9, flow_frames=8, width=0.125)

    class DM:
        def __init__(self) -> None:
            self.hparams, self.num_classes = {"modality": "rgb", "num_frames": 8}, 9

    class Trainer:
        datamodule = DM()

    m._trainer = Trainer()
    with pytest.raises(ConfigError, match="modality: rgb\\+flow"):
        m.setup("fit")


def test_frame_folder_datamodule_extracts_at_prepare_and_reads_rgb_flow_clips(tmp_path, caplog):
    for split in ("train", "val"):
        _write_video(tmp_path / "frames" / split / "walk" / "v1", 5)
        _write_video(tmp_path / "frames" / split / "run" / "v2", 5)
        _write_video(tmp_path / "frames" / split / "run" / "short", 3)  # 2 flow frames < T=3: skipped, logged
    dm = VideoDataModule(source="frames", root=str(tmp_path / "frames"), modality="rgb+flow", num_frames=3,
                         crop_size=24, batch_size=2, flow_dir=str(tmp_path / "flow"), num_workers=0)
    dm.prepare_data()
    assert (tmp_path / "flow" / "train" / "walk" / "v1" / "flow_y_00004.jpg").is_file()
    dm.setup("fit")
    clips, _ = next(iter(dm.train_dataloader()))
    assert clips.shape == (2, 5, 3, 24, 24) and len(dm._train.source) == 2
    assert "skipped 1 video(s) with fewer than 4 frames" in caplog.text


def test_extraction_command_reports_its_time_and_bad_root_exits_2(tmp_path, capsys):
    from datamodules.flow import main

    _write_video(tmp_path / "frames" / "walk" / "v1", 4)
    args = ["--source", "frames", "--root", str(tmp_path / "frames"), "--flow-dir", str(tmp_path / "flow")]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["extracted"] == 1 and "seconds" in report
    assert main([*args[:3], str(tmp_path / "nowhere"), *args[4:]]) == 2
    assert "does not exist" in capsys.readouterr().out
