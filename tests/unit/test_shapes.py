"""ShapesWorld: determinism, label formats, label/pixel agreement, and that colour hides the class."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from datamodules.shapes.captions import ShapesCaptions, plural
from datamodules.shapes.clips import MIRRORED, MOTIONS, REVERSED, ShapesClips, label_maps
from datamodules.shapes.geometry import SHAPES
from datamodules.shapes.pose import ShapesPose
from datamodules.shapes.scene import (
    ShapeObject,
    WorldConfig,
    make_rng,
    object_mask,
    render,
    sample_scene,
)
from datamodules.shapes.views import (
    ShapesClassification,
    ShapesDetection,
    ShapesSegmentation,
    ShapesUnlabeled,
)

IMAGE_VIEWS = [ShapesClassification, ShapesDetection, ShapesSegmentation, ShapesUnlabeled,
               ShapesPose, ShapesCaptions, ShapesClips]  # fmt: skip


def _image(sample) -> torch.Tensor:
    return sample[0]


def _same(a, b) -> bool:
    """Deep equality of samples (tensors compared bytewise)."""
    if isinstance(a, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return xs.mean(), ys.mean()


@pytest.mark.parametrize("view", IMAGE_VIEWS)
def test_deterministic_and_splits_differ(view):
    a, b = view("train", 4), view("train", 4)
    for i in range(3):
        assert _same(a[i], b[i]) and _same(a[i], a[i])
    val = view("val", 4)
    assert not torch.equal(_image(a[0]), _image(val[0]))
    assert not torch.equal(_image(a[0]), _image(a[1]))
    with pytest.raises(IndexError):
        a[4]


@pytest.mark.parametrize("view", IMAGE_VIEWS)
def test_image_format(view):
    cfg = WorldConfig(image_size=48)
    x = _image(view("train", 2, cfg)[1])
    assert x.dtype == torch.uint8 and x.is_contiguous()
    expected = (3, 16, 48, 48) if view is ShapesClips else (3, 48, 48)
    assert tuple(x.shape) == expected


def test_classification_labels_and_collate():
    ds = ShapesClassification("train", 64)
    labels = [ds[i][1] for i in range(64)]
    assert all(isinstance(y, int) and 0 <= y < ds.num_classes for y in labels)
    assert len(set(labels)) >= ds.num_classes - 1  # classes are drawn uniformly
    assert ds.classes == list(ds.config.kinds) and ds.num_classes == 8
    images, y = torch.utils.data.default_collate([ds[0], ds[1]])
    assert images.shape == (2, 3, 64, 64) and y.dtype == torch.int64


def test_detection_boxes_bound_masks_and_segmentation_agrees():
    det, seg = ShapesDetection("val", 20), ShapesSegmentation("val", 20)
    k = det.num_classes
    for i in range(20):
        image, t = det[i]
        n = len(t["labels"])
        assert n >= 1 and t["boxes"].shape == (n, 4) and t["masks"].shape == (n, 64, 64)
        assert t["boxes"].dtype == torch.float32 and t["labels"].dtype == torch.int64
        assert t["masks"].dtype == torch.uint8
        assert ((t["labels"] >= 1) & (t["labels"] <= k)).all()
        assert t["masks"].sum(0).max() <= 1  # visible masks never overlap
        for box, m in zip(t["boxes"], t["masks"]):
            ys, xs = torch.nonzero(m, as_tuple=True)
            tight = torch.tensor(
                [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32
            )
            assert torch.equal(box, tight)
        _, sem = seg[i]
        assert sem.dtype == torch.uint8 and sem.shape == (64, 64)
        expected = (t["masks"].long() * t["labels"][:, None, None]).sum(0)
        assert torch.equal(sem.long(), expected)
        # A visible mask shows its object's own colour on every pixel.
        scene = det.scene(i)
        for obj, m in zip(scene.objects, t["masks"]):
            pixels = image.permute(1, 2, 0)[m.bool()]
            assert (pixels == torch.tensor(obj.color, dtype=torch.uint8)).all()


@pytest.mark.parametrize("occlusion", [0.0, 0.3])
def test_occlusion_limit(occlusion):
    cfg = WorldConfig(min_objects=4, max_objects=4, occlusion=occlusion)
    for i in range(15):
        scene = sample_scene(make_rng(cfg.seed, "train", i), cfg, 4)
        _, full, visible = render(scene, masks=True)
        hidden = 1 - visible.sum((1, 2)) / full.sum((1, 2))
        assert (hidden <= occlusion + 1e-9).all()
        if occlusion == 0:
            assert full.sum(0).max() <= 1  # full masks pairwise disjoint


def test_pose_keypoints():
    ds = ShapesPose("train", 20, max_people=3)
    assert len(ds.joint_names) == 14
    for a, b in ds.flip_pairs:
        left, right = ds.joint_names[a], ds.joint_names[b]
        assert left.startswith("left_") and right == "right_" + left[5:]
    assert all(0 <= a < 14 and 0 <= b < 14 and a != b for a, b in ds.skeleton)
    for i in range(20):
        _, t = ds[i]
        kp = t["keypoints"]
        p = kp.shape[0]
        assert p >= 1 and kp.shape == (p, 14, 3) and kp.dtype == torch.float32
        assert t["boxes"].shape == (p, 4) and t["labels"].tolist() == [1] * p
        assert ((kp[..., :2] >= 0) & (kp[..., :2] < 64)).all()
        assert set(kp[..., 2].unique().tolist()) <= {1.0, 2.0}
        if p == 1:  # a lone figure hides nothing: every joint is visible
            assert (kp[..., 2] == 2).all()
        # Visible joints lie in their figure's box.
        for person, box in zip(kp, t["boxes"]):
            v = person[:, 2] == 2
            xy = person[v, :2]
            assert ((xy >= box[:2] - 1) & (xy <= box[2:] + 1)).all()


def test_captions_are_true_and_in_vocabulary():
    ds = ShapesCaptions("train", 25)
    vocab = set(ds.vocabulary_words)
    colours = {"red", "green", "blue", "yellow", "orange", "purple", "pink", "cyan", "white",
               "black", "gray", "brown"}  # fmt: skip
    kind_of = {k: k for k in ds.config.kinds} | {plural(k): k for k in ds.config.kinds}
    for i in range(25):
        _, caps = ds[i]
        scene = ds.scene(i)
        assert len(caps) == 5 and all(isinstance(c, str) for c in caps)
        present_kinds = {o.kind for o in scene.objects}
        present_colours = {o.color_name for o in scene.objects}
        for c in caps:
            words = c.split()
            assert set(words) <= vocab, c
            named_kinds = {kind_of[w] for w in words if w in kind_of}
            assert named_kinds and named_kinds <= present_kinds, (c, present_kinds)
            assert {w for w in words if w in colours} <= present_colours, c
            assert scene.background.adjective in c or "background" not in c


def test_caption_relations_are_true():
    ds = ShapesCaptions("val", 40, config=WorldConfig(min_objects=2, max_objects=2))
    checked = 0
    for i in range(40):
        a, b = ds.scene(i).objects if len(ds.scene(i).objects) == 2 else (None, None)
        if a is None or a.kind == b.kind:
            continue
        for c in ds[i][1]:
            if " left of " in c:
                first = a if c.index(a.kind) < c.index(b.kind) else b
                other = b if first is a else a
                assert first.cx < other.cx
                checked += 1
    assert checked > 0


def _clip_indices(ds: ShapesClips) -> dict[str, int]:
    found: dict[str, int] = {}
    for i in range(len(ds)):
        found.setdefault(ds.classes[ds.scene(i).label], i)
        if len(found) == len(MOTIONS):
            break
    assert len(found) == len(MOTIONS)
    return found


def _motions_seen(masks: list[np.ndarray], angles: list[float]) -> set[str]:
    """The motions whose every frame-to-frame step the object masks (and angles) show."""
    xs, ys = zip(*map(_centroid, masks))
    areas = [m.sum() for m in masks]
    steps = {
        "move_left": np.diff(xs) < 0, "move_right": np.diff(xs) > 0,
        "move_up": np.diff(ys) < 0, "move_down": np.diff(ys) > 0,
        "grow": np.diff(areas) > 0, "shrink": np.diff(areas) < 0,
        "rotate_cw": np.diff(angles) > 0, "rotate_ccw": np.diff(angles) < 0,
    }  # fmt: skip
    return {m for m, ok in steps.items() if ok.all()}


def test_clip_motion_matches_label():
    ds = ShapesClips("train", 100, num_frames=8)
    s = ds.config.image_size
    for motion, i in _clip_indices(ds).items():
        clip, label = ds[i]
        assert clip.shape == (3, 8, 64, 64) and ds.classes[label] == motion
        masks = [object_mask(o, s) for o in ds.scene(i).frames]
        if motion == "still":
            assert all(torch.equal(clip[:, 0], clip[:, t]) for t in range(8))
        else:
            assert motion in _motions_seen(masks, [o.angle for o in ds.scene(i).frames]), motion
            assert not torch.equal(clip[:, 0], clip[:, -1])


def test_mirrored_and_reversed_labels_name_what_the_transformed_clip_shows():
    # The video datamodule's flip / time-reversal augmentations relabel clips with these maps.
    assert all(MIRRORED[MIRRORED[i]] == i and REVERSED[REVERSED[i]] == i for i in range(len(MOTIONS)))
    ds = ShapesClips("train", 100, num_frames=8)
    for motion, i in _clip_indices(ds).items():
        masks = [object_mask(o, ds.config.image_size) for o in ds.scene(i).frames]
        angles = [o.angle for o in ds.scene(i).frames]
        label = MOTIONS.index(motion)
        if motion == "still":
            assert MIRRORED[label] == REVERSED[label] == label
            continue
        # a mirror image turns the other way: its angles run backwards
        assert MOTIONS[MIRRORED[label]] in _motions_seen([m[:, ::-1] for m in masks], [-a for a in angles])
        assert MOTIONS[REVERSED[label]] in _motions_seen(masks[::-1], angles[::-1])


def test_positive_angle_turns_clockwise_on_screen():
    # The crescent's mass sits off-centre, so its centroid direction follows the rotation.
    def direction(angle: float) -> float:
        obj = ShapeObject("crescent", 0, 32.0, 32.0, 40.0, angle, (255, 0, 0), "red")
        x, y = _centroid(object_mask(obj, 64))
        return math.atan2(y - 32.0, x - 32.0)  # image y down: increasing = clockwise

    turn = (direction(0.3) - direction(0.0) + math.pi) % (2 * math.pi) - math.pi
    assert 0.2 < turn < 0.4


def test_unlabeled_label_is_largest_object():
    ds = ShapesUnlabeled("test", 20)
    for i in range(20):
        _, label = ds[i]
        objs = ds.scene(i).objects
        assert 1 <= len(objs) <= 3 and label == objs[0].label
        assert all(o.size < objs[0].size for o in objs[1:])


def test_colour_does_not_reveal_class():
    # Nearest class mean on each image's mean colour must stay near chance (1/8).
    def features(split: str) -> tuple[np.ndarray, np.ndarray]:
        ds = ShapesClassification(split, 400)
        xs, ys = zip(*(ds[i] for i in range(400)))
        return torch.stack(xs).float().mean((2, 3)).numpy(), np.array(ys)

    x_train, y_train = features("train")
    x_val, y_val = features("val")
    centroids = np.stack([x_train[y_train == k].mean(0) for k in range(8)])
    spread = np.linalg.norm(centroids - centroids.mean(0), axis=1).max()
    # Per-image means vary by ~65 grey levels, so ~50 samples a class leave ~20 of sampling
    # spread; a colour tied to the class would spread the class means by ~100.
    assert spread < 35
    pred = np.linalg.norm(x_val[:, None] - centroids[None], axis=2).argmin(1)
    assert (pred == y_val).mean() < 0.25


def test_config_validation():
    with pytest.raises(ValueError):
        WorldConfig(kinds=("circle", "blob"))
    with pytest.raises(ValueError):
        WorldConfig(min_objects=3, max_objects=2)
    with pytest.raises(ValueError):
        ShapesClips(config=WorldConfig(kinds=("circle", "ring")))
    with pytest.raises(ValueError):
        ShapesClassification(split="dev")


def test_motion_subset_draws_only_its_motions_and_all_nine_keep_the_old_clips():
    full, explicit = ShapesClips("train", 30, num_frames=4), ShapesClips("train", 30, num_frames=4, motions=MOTIONS)
    assert all(torch.equal(full[i][0], explicit[i][0]) and full[i][1] == explicit[i][1] for i in range(30))
    rot = ShapesClips("train", 60, num_frames=4, motions=("rotate_cw", "rotate_ccw"))
    assert rot.classes == ["rotate_cw", "rotate_ccw"] and rot.num_classes == 2
    labels = [rot.scene(i).label for i in range(60)]
    assert set(labels) == {0, 1}
    for i in range(60):  # label 0 turns clockwise (angle grows), 1 anticlockwise
        frames = rot.scene(i).frames
        assert (frames[-1].angle > frames[0].angle) == (labels[i] == 0)
    assert label_maps(("rotate_cw", "rotate_ccw")) == ((1, 0), (1, 0))
    assert label_maps(("still", "grow", "shrink")) == ((0, 1, 2), (0, 2, 1))
    assert label_maps(("move_left", "grow")) == (None, None)  # no partner for left: cannot relabel
    assert MIRRORED == (1, 0, 2, 3, 5, 4, 6, 7, 8) and REVERSED == (1, 0, 3, 2, 5, 4, 7, 6, 8)  # all nine
    with pytest.raises(ValueError, match="unknown motion"):
        ShapesClips("train", 4, motions=("rotate_cw", "spin"))
    with pytest.raises(ValueError, match="two or more"):
        ShapesClips("train", 4, motions=("still",))


def test_rotation_step_sets_the_turn_per_frame_and_nothing_else():
    motions = ("rotate_cw", "rotate_ccw", "move_left")
    slow, fast = (ShapesClips("train", 40, num_frames=4, motions=motions, rotation_step=r) for r in ((4, 12), (15, 30)))
    assert ShapesClips("train", 40, num_frames=4, motions=motions).rotation_step == (4.0, 12.0)  # the default
    for i in range(40):
        a, b = slow.scene(i), fast.scene(i)
        assert a.label == b.label and a.frames[0] == b.frames[0]  # same draws: only the turn differs
        turn = abs(b.frames[1].angle - b.frames[0].angle)
        cap = 0.4 * 2 * math.pi / SHAPES[b.frames[0].kind].symmetry
        if motions[b.label].startswith("rotate"):
            assert min(math.radians(15), cap) - 1e-9 <= turn <= min(math.radians(30), cap) + 1e-9
            assert abs(a.frames[1].angle - a.frames[0].angle) <= math.radians(12) + 1e-9
        else:
            assert turn == 0 and a.frames == b.frames
    with pytest.raises(ValueError, match="rotation_step"):
        ShapesClips("train", 4, rotation_step=(12, 4))


def test_an_upright_world_is_the_same_one_object_scenes_without_rotation():
    import dataclasses

    cfg = WorldConfig(image_size=48, min_objects=1, max_objects=1)
    upright = dataclasses.replace(cfg, rotation=False)
    for i in range(10):
        a = sample_scene(make_rng(cfg.seed, "train", i), cfg, 1)
        b = sample_scene(make_rng(cfg.seed, "train", i), upright, 1)
        assert all(o.angle == 0.0 for o in b.objects)
        assert [(o.kind, o.cx, o.cy, o.size, o.color) for o in a.objects] == \
            [(o.kind, o.cx, o.cy, o.size, o.color) for o in b.objects]
    assert any(o.angle != 0.0 for i in range(10) for o in sample_scene(make_rng(cfg.seed, "train", i), cfg, 1).objects)
