"""One datamodule for video classification: ShapesWorld motion clips, frame folders, UCF101, HMDB51.

Batch contract (every source yields it): ``(clips, labels)`` with clips float32
``(B, 3, T, H, W)`` normalised and labels int64 ``(B,)``. With ``val_clips``/``test_clips`` or
``test_crops`` above one, the val/test loaders yield ``(B, K, 3, T, H, W)``: K clips (evenly
spaced in time, times the spatial crops) of each video, whose softmax ``VideoModule`` averages
(the papers' video-level protocol). With K = 1 the metric is clip accuracy.

Clip sampling: T = ``num_frames`` frames ``stride`` apart; training takes a random start and a
random ``crop_size`` square, evaluation evenly spaced starts and centre (or 3) crops.
Training flips (``flip``) and plays clips backwards (``reverse``) with the label each turns
the clip into when the source knows it: on ShapesWorld a mirrored move_left is a move_right and
a mirrored clockwise turn an anticlockwise one; a reversed clip reverses every motion. A
mirrored UCF101 action keeps its label; reversing needs the source's map, so only ShapesWorld
has it.

Optical flow (``modality``, the two-stream networks): ``"flow"`` clips are ``(B, 2, T, H, W)``
(dx, dy of T flow frames, pixels a frame / ``flow.bound``, so about -1..1) and ``"rgb+flow"``
clips ``(B, 5, T, H, W)``: channels 0-2 the RGB frames, 3-4 the flow from each frame to the
next. The flow is computed once (``datamodules.flow``), so a clip samples T of a video's N-1
flow frames; a mirrored clip's dx changes sign.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import torch
from jsonargparse.typing import PositiveInt
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from contracts.errors import ConfigError, DatasetError
from datamodules.base import FamilyDataModule, Split, Stats
from datamodules.flow import FlowFolder, FlowSettings, as_settings, extract, shapes_flow
from datamodules.pixels import PixelNormalize
from datamodules.shapes.clips import (
    MOTIONS,
    ShapesClips,
    check_motions,
    check_rotation_step,
    label_maps,
)
from datamodules.shapes.scene import WorldConfig, as_world
from datamodules.shapes.store import cache_dir, render_columns, view_key
from datamodules.sources.frame_folder import FrameFolderSource, frames_to_clip
from datamodules.sources.ucf101 import HMDB51Source, UCF101Source, _ucf_help

Source = Literal["shapes", "frames", "ucf101", "hmdb51"]
Modality = Literal["rgb", "flow", "rgb+flow"]
KINETICS_MEAN, KINETICS_STD = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)


class ClipSampler:
    """Frame indices of T-frame clips ``stride`` apart in a video of ``n`` frames.

    Training: one clip at a uniformly random start. Evaluation: ``clips`` starts evenly spaced
    over the video (the centre one for a single clip). A video shorter than the strided span but
    with at least T frames gets the largest stride that fits; fewer than T frames is an error.
    """

    def __init__(self, num_frames: int, stride: int = 1, train: bool = True, clips: int = 1) -> None:
        self.t, self.stride, self.train, self.clips = num_frames, stride, train, clips

    def __call__(self, n: int) -> list[list[int]]:
        if n < self.t:
            raise ValueError(f"has {n} frames, fewer than the clip length T={self.t}")
        stride = min(self.stride, (n - 1) // max(1, self.t - 1)) if self.t > 1 else 1
        last = n - ((self.t - 1) * stride + 1)  # latest start that keeps the clip inside
        if self.train:
            starts = [int(torch.randint(last + 1, ()))]
        elif self.clips == 1:
            starts = [last // 2]
        else:
            starts = [round(k * last / (self.clips - 1)) for k in range(self.clips)]
        return [list(range(s, s + self.t * stride, stride)) for s in starts]


class _ShapesSource:
    """ShapesWorld clips in the sources' ``load(i, pick)`` interface, rendered once when cached."""

    def __init__(self, view: ShapesClips, cache: bool, modality: Modality = "rgb",
                 flow: FlowSettings | None = None, flow_dir: str | None = None) -> None:
        self.view, self.modality = view, modality
        self.classes, self.num_classes = view.classes, view.num_classes
        self.mirrored, self.reversed = label_maps(view.motions)  # label of a mirrored / time-reversed clip
        self.clips, self.labels = render_columns(view) if cache else (None, None)  # (N,3,F,H,W), N ints
        self.flow, self.flow_seconds = None, 0.0
        if modality != "rgb":
            self.flow, self.flow_seconds = shapes_flow(self.clips, self._settings(), flow or FlowSettings(),
                                                       self._flow_path(flow or FlowSettings(), flow_dir))

    def _settings(self) -> dict:
        v = self.view
        return {"split": v.split, "size": len(v), "clip_frames": v.num_frames, "view_key": view_key(v)}

    def _flow_path(self, flow: FlowSettings, flow_dir: str | None) -> Path | None:
        name = f"ShapesClips-{self.view.split}-{len(self.view)}"
        if flow_dir:  # a named folder: one file per split and size, refused if made from other settings
            return Path(flow_dir) / f"{name}.pt"
        folder, key = cache_dir(), view_key(self.view)
        if folder is None or key is None:
            return None
        tag = hashlib.sha256(f"{key} {flow.record()}".encode()).hexdigest()[:16]
        return folder.parent / "flow" / f"{name}-{tag}.pt"

    def __len__(self) -> int:
        return len(self.view)

    def load(self, i: int, pick) -> tuple[list[torch.Tensor], int]:
        clip, label = (self.clips[i], self.labels[i]) if self.clips is not None else self.view[i]
        if self.flow is None:
            return [clip[:, c] for c in pick(clip.shape[1])], int(label)
        flow = self.flow[i]  # (2, F-1, H, W): frame t -> t+1
        return [_with_flow(clip[:, c], flow[:, c], self.modality) for c in pick(flow.shape[1])], int(label)


def _with_flow(rgb: torch.Tensor, flow: torch.Tensor, modality: str) -> torch.Tensor:
    """``(3, T, H, W)`` frames and their ``(2, T, H, W)`` flow -> the modality's uint8 clip."""
    return flow if modality == "flow" else torch.cat([rgb, flow])  # (2 | 5, T, H, W)


class _DiskFlowSource:
    """A frame-folder / video-file source with the flow :func:`datamodules.flow.extract` wrote for it."""

    def __init__(self, source, flow: FlowFolder, modality: Modality) -> None:
        self.source, self.flow, self.modality = source, flow, modality
        self.classes, self.num_classes = source.classes, source.num_classes

    def __len__(self) -> int:
        return len(self.source)

    def load(self, i: int, pick) -> tuple[list[torch.Tensor], int]:
        picked: list = []

        def pick_flow(n: int):  # a video of n frames has n-1 flow frames (its count is checked below)
            picked[:] = pick(n - 1)
            return picked

        rgb, label = self.source.load(i, pick_flow)
        if self.flow.count(i) < max(j for c in picked for j in c) + 1:
            raise DatasetError(f"{self.flow.dir / self.flow.ids[i]}: fewer flow frames than the video has; "
                               "extract it again")
        return [_with_flow(r, self.flow.frames(i, c), self.modality) for r, c in zip(rgb, picked, strict=True)], label


class _Clips(Dataset):
    """Samples clips from a source and crops them: uint8 ``(3, T, s, s)`` or ``(K, 3, T, s, s)``."""

    def __init__(self, source, sampler: ClipSampler, crop: int, resize: int | None, crops: int = 1,
                 flip: bool = False, reverse: bool = False, modality: Modality = "rgb") -> None:
        self.source, self.sampler, self.crop, self.resize = source, sampler, crop, resize
        self.crops, self.flip, self.reverse = crops, flip, reverse
        self.dx = {"rgb": None, "flow": 0, "rgb+flow": 3}[modality]  # the flow's x channel: negated by a mirror
        self.mirrored = getattr(source, "mirrored", None)  # None: a mirrored clip keeps its label
        self.reversed = getattr(source, "reversed", None)

    def __len__(self) -> int:
        return len(self.source)

    def _crops(self, clip: torch.Tensor) -> list[torch.Tensor]:
        if self.resize:
            clip = TF.resize(clip.transpose(0, 1), [self.resize], antialias=True).transpose(0, 1)  # short side
        _, _, h, w = clip.shape  # (3, T, H, W)
        s = self.crop
        if h < s or w < s:
            raise DatasetError(f"frames of {h}x{w} px are smaller than crop_size={s}; set resize >= {s}")
        if self.sampler.train:
            y, x = int(torch.randint(h - s + 1, ())), int(torch.randint(w - s + 1, ()))
            return [clip[..., y:y + s, x:x + s]]
        cy, cx = (h - s) // 2, (w - s) // 2
        corners = [(cy, cx)]
        if self.crops == 3:  # three crops along the longer side (the R(2+1)D protocol)
            corners = [(y, cx) for y in (0, cy, h - s)] if h > w else [(cy, x) for x in (0, cx, w - s)]
        if self.crops == 10:  # four corners and the centre, and their mirrors (the two-stream protocol)
            corners = [(0, 0), (0, w - s), (h - s, 0), (h - s, w - s), (cy, cx)]
            views = [clip[..., y:y + s, x:x + s] for y, x in corners]
            return views + [self._mirror(v) for v in views]
        return [clip[..., y:y + s, x:x + s] for y, x in corners]

    def _mirror(self, clip: torch.Tensor) -> torch.Tensor:
        """Left-right mirror; a flow's dx changes sign (255 - q is -v in the symmetric quantisation)."""
        clip = clip.flip(-1)
        if self.dx is not None:
            clip = clip.clone()
            clip[self.dx] = 255 - clip[self.dx]
        return clip

    def __getitem__(self, i: int):
        clips, label = self.source.load(i, self.sampler)
        views = [v for c in clips for v in self._crops(c)]
        if not self.sampler.train:
            return torch.stack(views), label  # (K, 3, T, s, s)
        clip = views[0]  # (3, T, s, s)
        if self.flip and torch.rand(()) < 0.5:
            clip, label = self._mirror(clip), self.mirrored[label] if self.mirrored else label
        if self.reverse and torch.rand(()) < 0.5:
            clip, label = clip.flip(1), self.reversed[label]
        return clip, label


class _Normalize:
    """Collate: stack uint8 clips and normalise the whole batch in one op."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], modality: Modality = "rgb") -> None:
        self.normalize = PixelNormalize(mean, std, channel_dim=-4)
        self.modality = modality

    def __call__(self, samples):
        clips = torch.stack([c for c, _ in samples]).float()  # (B, C, T, H, W) or (B, K, C, T, H, W)
        if clips.ndim == 6 and clips.shape[1] == 1:
            clips = clips[:, 0]  # one view per video: the plain clip contract
        labels = torch.tensor([int(y) for _, y in samples], dtype=torch.long)
        if self.modality == "rgb":
            return self.normalize(clips), labels
        flow = (clips[..., -2:, :, :, :] - 127.5) / 127.5  # quantised flow -> flow / bound, about -1..1
        if self.modality == "flow":
            return flow, labels
        return torch.cat([self.normalize(clips[..., :3, :, :, :]), flow], dim=-4), labels


class VideoDataModule(FamilyDataModule):
    """Labelled clips from ShapesWorld motions, frame folders, UCF101 or HMDB51.

    Args:
        source: "shapes" (embedded, 9 motions), "frames" (``root/train``, ``root/<val_split>``
            of ``<class>/<video>/img_00001.jpg``), "ucf101", "hmdb51" (official layout and splits).
        root: dataset folder for the on-disk sources.
        fold: official split (1-3) for UCF101/HMDB51.
        num_frames: T, frames per clip.
        stride: frames between sampled frames.
        crop_size: side of the square crops fed to the network.
        resize: resize the short side of on-disk frames to this first (C3D: 128); None keeps it.
        flip: random horizontal flips in training; on ShapesWorld with the mirrored label
            (move_left <-> move_right, cw <-> ccw).
        reverse: play half the training clips backwards with the reversed label (ShapesWorld
            only: left <-> right, up <-> down, cw <-> ccw, grow <-> shrink).
        val_clips: clips per video in validation (1 = clip accuracy).
        test_clips: clips per video at test time, averaged by the module (video accuracy).
        test_crops: 1 (centre), 3 (along the long side) or 10 (corners, centre and their mirrors:
            the two-stream protocol) spatial crops per test clip.
        batch_size: per-process batch size.
        eval_batch_size: val/test batch size (defaults to ``batch_size``).
        num_workers: loader processes; -1: 0 for cached ShapesWorld, else one per spare core.
        val_split: frame-folder split used for val/test.
        world: ShapesWorld settings (part of a demo's claim: set them explicitly).
        clip_frames: frames rendered per ShapesWorld clip (>= num_frames; the rest is temporal jitter).
        train_size: ShapesWorld training clips.
        val_size: ShapesWorld validation (and test) clips.
        cache: render ShapesWorld once into memory at setup.
        motions: ShapesWorld classes, a subset of the nine (default all), e.g. ``[rotate_cw, rotate_ccw]``
            to train on one distinction alone; set ``model.init_args.num_classes`` to match.
        rotation_step: ShapesWorld rotations: (low, high) degrees a frame, drawn per clip (part of
            the world's claim, like ``world``; capped below 40 % of each kind's symmetry angle).
        modality: "rgb" clips, "flow" (2 channels) or "rgb+flow" (5), for the two-stream nets.
        flow: optical-flow settings (``datamodules.flow.FlowSettings``: Farnebäck and the uint8 bound).
        flow_dir: where the flow is kept: ShapesWorld's ``<split>-<size>.pt`` files (default
            ``$PAPERLAB_CACHE/flow``), or the on-disk sources' extracted flow JPEGs (required for them;
            extracted at ``prepare_data`` when missing, resuming where a previous run stopped).
    """

    dataset_names: ClassVar[dict[str, str]] = {"shapes": "ShapesWorld motions", "ucf101": "UCF101",
                                               "hmdb51": "HMDB51"}
    shapes_description: ClassVar[str] = "ShapesWorld clips"
    disk_stats: ClassVar[Stats] = (KINETICS_MEAN, KINETICS_STD)

    def __init__(
        self,
        source: Source = "shapes",
        root: str | None = None,
        fold: int = 1,
        num_frames: int = 8,
        stride: int = 1,
        crop_size: int = 32,
        resize: int | None = None,
        flip: bool = False,
        reverse: bool = False,
        val_clips: int = 1,
        test_clips: int = 1,
        test_crops: Literal[1, 3, 10] = 1,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = -1,
        val_split: str = "val",
        world: WorldConfig = WorldConfig(image_size=32),  # noqa: B008 (frozen dataclass)
        clip_frames: int = 10,
        train_size: PositiveInt = 4000,
        val_size: PositiveInt = 500,
        cache: bool = True,
        motions: list[str] | None = None,
        rotation_step: tuple[float, float] = (4.0, 12.0),
        modality: Modality = "rgb",
        flow: FlowSettings = FlowSettings(),  # noqa: B008 (frozen dataclass)
        flow_dir: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        world = as_world(world)
        if motions is not None and source != "shapes":
            raise ConfigError(f"data.init_args.motions picks ShapesWorld classes; source={source!r} takes its "
                              "classes from the dataset's folders")
        try:
            self.motions = check_motions(motions if motions is not None else MOTIONS)
        except ValueError as e:
            raise ConfigError(f"data.init_args.motions: {e}") from None
        try:
            check_rotation_step(rotation_step)
        except ValueError as e:
            raise ConfigError(f"data.init_args.{e}") from None
        for flag, label_map in zip(("flip", "reverse"), label_maps(self.motions), strict=True):
            if source == "shapes" and getattr(self.hparams, flag) and label_map is None:
                raise ConfigError(f"data.init_args.{flag}=true needs each motion's counterpart among "
                                  f"data.init_args.motions={list(self.motions)} (e.g. move_left with move_right)")
        self.world = world
        if source == "shapes" and clip_frames < num_frames:
            raise ConfigError(f"data.init_args.clip_frames={clip_frames} < num_frames={num_frames}")
        if reverse and source != "shapes":
            raise ConfigError(f"data.init_args.reverse=true with source={source!r}: a reversed clip needs each "
                              "class's reversed label, which only the ShapesWorld source defines")
        if modality != "rgb" and source == "shapes" and clip_frames - 1 < num_frames:
            raise ConfigError(f"data.init_args.clip_frames={clip_frames} gives {clip_frames - 1} flow frames, fewer "
                              f"than num_frames={num_frames}: set clip_frames >= {num_frames + 1}")
        if modality != "rgb" and reverse:
            raise ConfigError("data.init_args.reverse=true with a flow modality: a reversed clip's flow is not the "
                              "negated flow; use flip")
        if modality != "rgb" and source == "shapes" and not cache:
            raise ConfigError("data.init_args.modality uses flow, computed once over the rendered clips: "
                              "set data.init_args.cache=true")
        if modality != "rgb" and source != "shapes" and not flow_dir:
            raise ConfigError(f"data.init_args.modality={modality!r} with source={source!r} needs "
                              "data.init_args.flow_dir (where the flow JPEGs are extracted)")
        self.flow_settings = as_settings(flow)
        self.flow_seconds = 0.0  # flow extraction time of this run (0 when read from a cache)
        self.check_data(source, root)
        self.num_classes: int | None = len(self.motions) if source == "shapes" else None

    @classmethod
    def _check_source(cls, source: str, root: str | None, **_: object) -> None:
        path = Path(root or "")
        need = {"frames": path / "train", "ucf101": path / "ucfTrainTestlist",
                "hmdb51": path / "testTrainMulti_7030_splits"}[source]
        if not root or not need.is_dir():
            help_text = {"frames": "Expected root/train/<class>/<video>/img_00001.jpg and root/val/...",
                         "ucf101": _ucf_help(path),
                         "hmdb51": "Expected root/<class>/*.avi and root/testTrainMulti_7030_splits/."}[source]
            raise DatasetError(f"data.init_args.root={root!r} has no {need.name}/.\n{help_text}")

    @property
    def class_names(self) -> list[str] | None:
        src = next((d.source for d in (self._train, self._val) if d is not None), None)
        return list(src.classes) if src is not None else (list(self.motions) if self.hparams.source == "shapes" else None)

    def object_masks(self, indices: list[int]) -> torch.Tensor:
        """The moving shape's masks over the validation clips ``indices`` as the val loader cuts
        them (its one centre clip, centre crop), bool ``(N, T, s, s)``; ShapesWorld only."""
        h = self.hparams
        if h.source != "shapes":
            raise ConfigError(f"data.init_args.source={h.source!r} has no object masks (only 'shapes' has)")
        if h.val_clips != 1:
            raise ConfigError(f"data.init_args.val_clips={h.val_clips}: object masks follow one clip per video (set 1)")
        view = ShapesClips("val", h.val_size, self.world, h.clip_frames, motions=self.motions,
                           rotation_step=tuple(h.rotation_step))
        pick = ClipSampler(h.num_frames, h.stride, train=False)
        s, out = h.crop_size, []
        for i in indices:
            m = view.object_masks(i)  # (F, H, W)
            frames = pick(m.shape[0])[0]
            cy, cx = (m.shape[1] - s) // 2, (m.shape[2] - s) // 2  # the val loader's centre crop
            out.append(m[frames, cy:cy + s, cx:cx + s])
        return torch.stack(out)

    def _raw(self, train: bool) -> _ShapesSource | FrameFolderSource | UCF101Source:
        h = self.hparams
        if h.source == "shapes":
            view = ShapesClips("train" if train else "val", h.train_size if train else h.val_size, self.world,
                               h.clip_frames, motions=self.motions, rotation_step=tuple(h.rotation_step))
            src = _ShapesSource(view, h.cache, h.modality, self.flow_settings, h.flow_dir)
            self.flow_seconds += src.flow_seconds
            return src
        src = self._disk(train)
        if h.modality == "rgb":
            return src
        return _DiskFlowSource(src, FlowFolder(src, self._flow_folder(train), self.flow_settings), h.modality)

    def _disk(self, train: bool) -> FrameFolderSource | UCF101Source:
        h = self.hparams
        if h.source == "frames":  # flow needs one more frame than the clip
            return FrameFolderSource(Path(h.root) / ("train" if train else h.val_split),
                                     min_frames=h.num_frames + (h.modality != "rgb"))
        cls = UCF101Source if h.source == "ucf101" else HMDB51Source
        return cls(h.root, "train" if train else "test", h.fold)

    def _flow_folder(self, train: bool) -> Path:
        return Path(self.hparams.flow_dir) / ("train" if train else "val")

    def prepare_data(self) -> None:
        """On-disk sources with flow: extract what is missing (resumes; the time goes to the log)."""
        if self.hparams.modality == "rgb" or self.hparams.source == "shapes":
            return
        for train in (True, False):
            report = extract(self._disk(train), self._flow_folder(train), self.flow_settings)
            self.flow_seconds += report["seconds"]

    def setup(self, stage: str) -> None:
        h = self.hparams
        if h.source == "shapes" and self.world.image_size < h.crop_size:
            raise ConfigError(f"world.image_size={self.world.image_size} < crop_size={h.crop_size}")
        super().setup(stage)

    def _split(self, split: Split) -> Dataset:
        h = self.hparams
        resize = None if h.source == "shapes" else h.resize
        if split == "test":  # the validation videos, with the test protocol's clips and crops
            return _Clips(self._val.source, ClipSampler(h.num_frames, h.stride, False, h.test_clips), h.crop_size,
                          resize, crops=h.test_crops, modality=h.modality)
        train = split == "train"
        src = self._raw(train)
        self.num_classes = src.num_classes if train else self.num_classes or src.num_classes
        if train:
            return _Clips(src, ClipSampler(h.num_frames, h.stride, True), h.crop_size, resize, flip=h.flip,
                          reverse=h.reverse, modality=h.modality)
        return _Clips(src, ClipSampler(h.num_frames, h.stride, False, h.val_clips), h.crop_size, resize,
                      modality=h.modality)

    def collate_fn(self, ds: Dataset, train: bool) -> _Normalize:
        return _Normalize(*self._stats(), modality=self.hparams.modality)

    def _in_memory(self) -> bool:
        return self.hparams.source == "shapes" and self.hparams.cache


__all__ = ["ClipSampler", "VideoDataModule", "frames_to_clip"]
