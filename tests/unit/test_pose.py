"""Pose: heatmap encode/decode, loss and PCK properties, the hourglass net and module, top-down
crops (flips swap left and right), ShapesWorld/COCO/MPII sources on format fixtures, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from contracts.errors import ConfigError, DatasetError
from datamodules.pose import PoseDataModule, ShapesPoseSource
from datamodules.pose_crops import TopDownCrops, crop_matrix, warp_image, warp_keypoints
from datamodules.shapes.pose import ShapesPose
from datamodules.shapes.scene import WorldConfig
from datamodules.sources.coco_keypoints import COCOKeypoints
from datamodules.sources.keypoints import Person
from datamodules.sources.mpii import MPIIPose
from experiments.baselines.baseline import baseline_scores
from experiments.baselines.pose import mean_pose
from lit_modules.hourglass import HourglassModule
from lit_modules.losses.heatmap import heatmap_mse
from lit_modules.metrics.pck import PCK, PCKh
from lit_modules.metrics.pose_media import draw_skeletons
from lit_modules.nets.hourglass import StackedHourglass
from lit_modules.ops.heatmaps import decode_heatmaps, encode_heatmaps

# ---------------------------------------------------------------- heatmaps, loss, metric


def test_encode_decode_round_trip_within_a_quarter_heatmap_pixel():
    g = torch.Generator().manual_seed(0)
    kps = torch.cat([torch.rand(4, 14, 2, generator=g) * 56 + 4, torch.full((4, 14, 1), 2.0)], -1)  # (4, 14, 3)
    heat, w = encode_heatmaps(kps, (16, 16), stride=4, sigma=1.0)
    assert heat.shape == (4, 14, 16, 16) and w.eq(1).all() and heat.amax((-2, -1)).gt(0.6).all()
    pred = decode_heatmaps(heat, stride=4)
    err = (pred[..., :2] - kps[..., :2]).abs()
    assert err.max() <= 0.25 * 4 + 1e-4  # the quarter-pixel shift halves argmax's 0.5 px bound
    plain = decode_heatmaps(heat, stride=4)[..., :2]  # compare with a plain argmax
    idx = heat.flatten(2).argmax(-1)
    argmax = torch.stack([(idx % 16 + 0.5) * 4, (idx // 16 + 0.5) * 4], -1)
    assert (plain - kps[..., :2]).norm(dim=-1).mean() < (argmax - kps[..., :2]).norm(dim=-1).mean()


def test_unlabelled_and_off_map_joints_get_no_target():
    kps = torch.tensor([[[10.0, 10, 2], [10, 10, 0], [70, 10, 2], [-3, 5, 1]]])  # (1, 4, 3), maps cover 0..64
    heat, w = encode_heatmaps(kps, (16, 16), stride=4)
    assert w.tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert heat[0, 1:].abs().sum() == 0 and heat[0, 0].max() > 0.5


def test_heatmap_mse_properties():
    g = torch.Generator().manual_seed(1)
    target, pred = torch.rand(3, 5, 8, 8, generator=g), torch.rand(3, 5, 8, 8, generator=g)
    w = torch.ones(3, 5)
    w[1, 2] = 0
    assert heatmap_mse(target, target, w) == 0
    hand = ((pred - target) ** 2).mean((-2, -1))[w.bool()].mean()  # hand-computed
    assert torch.allclose(heatmap_mse(pred, target, w), hand)
    moved = pred.clone()
    moved[1, 2] += 10  # an unlabelled joint's map does not count
    assert torch.allclose(heatmap_mse(moved, target, w), hand)
    perm = torch.tensor([2, 0, 1])  # invariant to batch order
    assert torch.allclose(heatmap_mse(pred[perm], target[perm], w[perm]), hand)
    assert heatmap_mse(pred, target, torch.zeros(3, 5)) == 0  # no labelled joint: 0, not NaN
    p = pred.clone().requires_grad_()
    opt = torch.optim.SGD([p], lr=50.0)
    before = heatmap_mse(pred, target, w).item()
    for _ in range(5):  # falls under SGD
        opt.zero_grad()
        heatmap_mse(p, target, w).backward()
        opt.step()
    assert heatmap_mse(p, target, w).item() < 0.5 * before


def test_pck_counts_labelled_joints_within_alpha_times_normaliser():
    target = torch.tensor([[[10.0, 10, 2], [20, 20, 1], [30, 30, 0]],
                           [[10.0, 10, 2], [20, 20, 2], [30, 30, 2]]])  # (2, 3, 3)
    pred = target[..., :2] + torch.tensor([[[0.9, 0], [1.5, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]])
    m = PCK(0.1)
    m.update(pred, target, torch.tensor([10.0, 0.0]))  # sample 2: unknown normaliser, not counted
    assert m.total == 2 and m.compute() == pytest.approx(0.5)  # 0.9 <= 1.0 < 1.5; joint 3 unlabelled
    m.update(pred[:1], target[:1], torch.tensor([20.0]))  # sums accumulate across batches
    assert m.compute() == pytest.approx(3 / 4)
    assert PCKh().alpha == 0.5


def test_mean_pose_baseline_averages_visible_joints_only():
    kp = torch.tensor([[[0.0, 0.0, 1.0], [10.0, 10.0, 0.0]],
                       [[4.0, 2.0, 1.0], [6.0, 8.0, 1.0]]])  # (B=2, K=2, 3); joint 1 unseen in sample 0
    batches = [(None, kp[:1], None, None), (None, kp[1:], None, None)]
    assert torch.allclose(mean_pose(batches), torch.tensor([[2.0, 1.0], [6.0, 8.0]]))


def test_pose_baseline_command_scores_the_demo_world():
    family, scores = baseline_scores(["configs/hourglass/demo.yaml"], ["--data.init_args.train_size", "40",
                                                                       "--data.init_args.val_size", "20"])
    out = scores["mean_pose"]
    assert family == "pose"
    assert set(out) == {"val/pck@0.1"} and 0.0 < out["val/pck@0.1"] < 1.0  # ShapesWorld has no head sizes


# ---------------------------------------------------------------- net and module


@pytest.mark.parametrize(("stacks", "stride"), [(1, 4), (2, 2)])
def test_stacked_hourglass_shapes(stacks, stride):
    net = StackedHourglass(num_joints=5, num_stacks=stacks, channels=16, depth=2, stride=stride)
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, stacks, 5, 32 // stride, 32 // stride)
    out[:, 0].sum().backward()  # the first stack's output reaches the stem
    assert net.stem[0].weight.grad.abs().sum() > 0


def _batch(k: int = 14, b: int = 4, s: int = 32):
    g = torch.Generator().manual_seed(0)
    kps = torch.cat([torch.rand(b, k, 2, generator=g) * (s - 8) + 4, torch.full((b, k, 1), 2.0)], -1)
    return torch.randn(b, 3, s, s, generator=g), kps, torch.full((b,), 20.0), torch.zeros(b)


def test_module_intermediate_supervision_sums_every_stack():
    batch = _batch()
    on = HourglassModule(num_joints=14, num_stacks=2, channels=16, depth=2, intermediate_supervision=True)
    off = HourglassModule(num_joints=14, num_stacks=2, channels=16, depth=2, intermediate_supervision=False)
    off.load_state_dict(on.state_dict())
    loss_on, loss_off = on.training_step(batch, 0), off.training_step(batch, 0)
    out = on(batch[0])
    target, w = encode_heatmaps(batch[1], out.shape[-2:], 4)
    assert torch.allclose(loss_off, heatmap_mse(out[:, -1], target, w), atol=1e-6)
    assert torch.allclose(loss_on, loss_off + heatmap_mse(out[:, 0], target, w), atol=1e-6)
    pred = on.predict_step(batch, 0)
    assert pred.shape == (4, 14, 3)


def test_module_refuses_data_with_another_joint_count():
    dm = PoseDataModule(world=WorldConfig(image_size=64))  # 14 joints
    m = HourglassModule(num_joints=16, num_stacks=1, channels=16, depth=2)
    m._trainer = SimpleNamespace(datamodule=dm)
    with pytest.raises(ConfigError, match="num_joints=16 .* 14 joints"):
        m.setup("fit")


def test_flip_test_maps_mirrored_heatmaps_back_to_the_same_joints():
    m = HourglassModule(num_joints=3, num_stacks=1, channels=16, depth=2, flip_test=True).eval()
    m.flip_perm = [1, 0, 2]
    x = torch.randn(2, 3, 32, 32)
    heat = m.heatmaps(x)
    mirrored = m.heatmaps(x.flip(-1))  # a mirrored image predicts mirrored maps with left/right swapped
    assert torch.allclose(heat, mirrored.flip(-1)[:, [1, 0, 2]], atol=1e-5)


def test_wandb_media_draws_one_image_per_crop():
    import wandb

    m = HourglassModule(num_joints=14, num_stacks=1, channels=16, depth=2).eval()
    media = m.wandb_media(_batch(), None, n=3)
    assert len(media["val/skeletons"]) == 3 and isinstance(media["val/skeletons"][0], wandb.Image)


def test_skeleton_drawing_marks_true_and_predicted_joints():
    img = np.zeros((16, 16, 3), np.uint8)
    true = torch.tensor([[2.0, 2, 2], [12, 12, 2], [8, 8, 0]])
    out = draw_skeletons(img, true, torch.tensor([[12.0, 2], [2, 12], [8, 8]]), [(0, 1), (1, 2)], zoom=2)
    assert out.shape == (32, 32, 3)
    assert tuple(out[4, 4]) == (0, 220, 0) and tuple(out[4, 24]) == (255, 40, 40)  # true green, pred red


# ---------------------------------------------------------------- crops and flips


def test_crop_warps_image_and_keypoints_together():
    image = torch.zeros(3, 40, 60, dtype=torch.uint8)
    image[:, 9:12, 44:47] = 255  # a bright 3x3 block centred on keypoint (45.5, 10.5)
    kps = np.array([[45.5, 10.5, 2], [20.5, 30.5, 2]], np.float32)
    box = np.array([10, 5, 50, 35], np.float32)
    for rot, flip in ((0.0, False), (30.0, False), (-20.0, True)):
        m = crop_matrix(box, 64, 1.25, 1.1, rot, flip)
        crop = warp_image(image, m, 64)
        x, y, v = warp_keypoints(kps, m, 64)[0]
        assert v == 2 and crop[0, int(y), int(x)] > 200, (rot, flip)  # the point lands where its pixel went


def test_flip_swaps_left_and_right_joints():
    kps = np.array([[10.5, 20.5, 2], [30.5, 20.5, 2], [20.5, 5.5, 2]], np.float32)  # 0 left, 1 right, 2 head
    box = np.array([0, 0, 40, 40], np.float32)
    m = crop_matrix(box, 40, 1.0, flip=True)
    out = warp_keypoints(kps, m, 40, flip_pairs=[(0, 1)], flipped=True)
    # The mirror puts the old right joint (x 30.5) at x 9.5 and labels it "left".
    np.testing.assert_allclose(out[:, :2], [[9.5, 20.5], [29.5, 20.5], [19.5, 5.5]], atol=1e-4)


def test_shapes_flipped_training_crops_keep_the_figures_own_left_on_the_image_right():
    view = ShapesPose("train", 24, WorldConfig(image_size=64), max_people=1)
    src = ShapesPoseSource(view)
    crops = TopDownCrops(src, 64, src.flip_pairs, train=True, flip=True)
    plain = TopDownCrops(src, 64, src.flip_pairs)
    torch.manual_seed(0)
    flipped = 0
    for i in range(len(src)):
        img, kps, _, _ = crops[i]
        img0, kps0, _, _ = plain[i]
        was_flipped = not torch.equal(img, img0)
        flipped += was_flipped
        for left, right in ShapesPose.flip_pairs[:1]:  # shoulders: torso tilt <= 20 deg keeps them ordered
            assert kps[left, 0] > kps[right, 0] and kps0[left, 0] > kps0[right, 0], i
        if was_flipped:  # the flipped "left shoulder" is the mirrored right one
            assert kps[2, 0].item() == pytest.approx(64 - kps0[3, 0].item(), abs=1e-3)
    assert 4 <= flipped <= 20


# ---------------------------------------------------------------- sources on format fixtures


def _image(path: Path, w: int = 40, h: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _kps(k: int, vis: int = 2, x0: float = 5.0) -> list[float]:
    return [v for j in range(k) for v in (x0 + j, 10.0 + j % 5, vis)]


def _coco(root: Path, split: str = "val2017", anns: list[dict] | None = None) -> Path:
    _image(root / split / "000000000001.jpg")
    _image(root / split / "000000000002.jpg")
    anns = anns if anns is not None else [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 30, 20], "iscrowd": 0, "num_keypoints": 17,
         "keypoints": _kps(17)},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 0, "num_keypoints": 0,
         "keypoints": [0] * 51},                                                       # no keypoints: skipped
        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 40, 30], "iscrowd": 1, "num_keypoints": 5,
         "keypoints": _kps(17)},                                                       # crowd: skipped
        {"id": 4, "image_id": 2, "category_id": 1, "bbox": [10, 5, 20, 20], "iscrowd": 0, "num_keypoints": 16,
         "keypoints": _kps(17, x0=26.0)[:-3] + [0, 0, 0]},                             # x 26..41: joint 15 off image
    ]
    cat = {"id": 1, "name": "person", "keypoints": [f"kp{j}" for j in range(17)],
           "skeleton": [[16, 14], [14, 12], [6, 7]]}
    data = {"images": [{"id": 1, "file_name": "000000000001.jpg", "width": 40, "height": 30},
                       {"id": 2, "file_name": "000000000002.jpg", "width": 40, "height": 30}],
            "annotations": anns, "categories": [cat]}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"person_keypoints_{split}.json").write_text(json.dumps(data))
    return root


def test_coco_keypoints_one_item_per_annotated_person(tmp_path):
    ds = COCOKeypoints(_coco(tmp_path), "val2017")
    assert len(ds) == 2 and len(ds.joint_names) == 17 and ds.skeleton[0] == (15, 13) and (1, 2) in ds.flip_pairs
    image, person = ds[0]
    assert image.shape == (3, 30, 40) and image.dtype == torch.uint8
    np.testing.assert_allclose(person.box, [2, 3, 32, 23])  # xywh -> xyxy
    assert person.keypoints.shape == (17, 3) and person.keypoints[0].tolist() == [5, 10, 2] and person.head_size == 0
    kps = ds.person(1).keypoints
    assert kps[15, 2] == 0 and kps[14, 2] == 2 and kps[16, 2] == 0  # x = 41 off a 40 px image: unlabelled (x = 40, the edge, is in)


def test_coco_bad_input_names_the_file(tmp_path):
    root = _coco(tmp_path)
    with pytest.raises(DatasetError, match=r"person_keypoints_val2017.json: annotation id 4.*outside the image"):
        COCOKeypoints(root, "val2017", bad_keypoints="error")
    bad = _coco(tmp_path / "b", anns=[{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9, 9],
                                       "num_keypoints": 17, "keypoints": _kps(17, vis=3)}])
    with pytest.raises(DatasetError, match=r"person_keypoints_val2017.json: annotation id 7.*visibility code.*\[3\]"):
        COCOKeypoints(bad, "val2017")
    bad = _coco(tmp_path / "c", anns=[{"id": 8, "image_id": 1, "category_id": 1, "bbox": [0, 0, 9],
                                       "num_keypoints": 17, "keypoints": _kps(17)}])
    with pytest.raises(DatasetError, match=r"person_keypoints_val2017.json: annotation id 8.*bbox"):
        COCOKeypoints(bad, "val2017")
    with pytest.raises(DatasetError, match=r"person_keypoints_train2017.json: annotation file is missing"):
        COCOKeypoints(root, "train2017")


def _mpii(root: Path, records: list[dict] | None = None, split: str = "valid") -> Path:
    _image(root / "images" / "000001163.jpg", 80, 60)
    joints = [[10.0 + 2 * j, 20.0 + j] for j in range(16)]
    records = records if records is not None else [
        {"image": "000001163.jpg", "center": [40.0, 30.0], "scale": 0.2, "joints": joints,
         "joints_vis": [1] * 15 + [0], "headbox": [10, 10, 16, 18]},
        {"image": "000001163.jpg", "center": [40.0, 30.0], "scale": 0.2, "joints": joints,
         "joints_vis": [1] * 16},
    ]
    (root / "annot").mkdir(parents=True, exist_ok=True)
    (root / "annot" / f"{split}.json").write_text(json.dumps(records))
    return root


def test_mpii_json_records(tmp_path):
    ds = MPIIPose(_mpii(tmp_path), "valid")
    assert len(ds) == 2 and len(ds.joint_names) == 16 and (0, 5) in ds.flip_pairs
    image, p = ds[0]
    assert image.shape == (3, 60, 80)
    assert p.keypoints[0].tolist() == [9.5, 19.5, 2] and p.keypoints[15, 2] == 0  # Matlab -> edge frame, vis 1 -> 2
    np.testing.assert_allclose(p.box, [19.5, 12.5, 59.5, 52.5])  # 200 * 0.2 = 40 px around (39.5, 29.5 + 3)
    assert p.head_size == pytest.approx(0.6 * 10.0)  # headbox 6 x 8: diagonal 10
    neck_to_top = math.hypot(2, 1)  # joints 8 -> 9
    assert ds.person(1).head_size == pytest.approx(0.6 * math.sqrt(2) * neck_to_top)  # no headbox: approximation


def test_mpii_bad_input_names_the_file(tmp_path):
    rec = {"image": "a.jpg", "center": [40.0, 30.0], "scale": 0.2, "joints": [[5.0, 5.0]] * 16}
    root = _mpii(tmp_path, [{**rec, "joints_vis": [2] * 16}])
    with pytest.raises(DatasetError, match=r"valid.json: record 0 \(a.jpg\): unknown visibility code"):
        MPIIPose(root, "valid")
    root = _mpii(tmp_path / "b", [{**rec, "joints": [[-20.0, 5.0]] + [[5.0, 5.0]] * 15, "joints_vis": [1] * 16}])
    assert MPIIPose(root, "valid").person(0).keypoints[0, 2] == 0  # off-image joint (MPII has them): skipped
    with pytest.raises(DatasetError, match=r"valid.json: record 0.*outside the image"):
        MPIIPose(root, "valid", bad_keypoints="error")
    with pytest.raises(DatasetError, match=r"valid.json: record 0.*malformed.*scale"):
        MPIIPose(_mpii(tmp_path / "c", [{"image": "a.jpg", "center": [1, 2], "joints": [[1, 1]] * 16}]), "valid")
    with pytest.raises(DatasetError, match=r"(?s)annot/train.json: annotation file is missing.*human-pose.mpi-inf"):
        MPIIPose(root, "train")


# ---------------------------------------------------------------- datamodule


def test_datamodule_batch_contract_on_coco_and_mpii(tmp_path):
    _coco(tmp_path / "coco", "train2017")
    _coco(tmp_path / "coco", "val2017")
    dm = PoseDataModule("coco", str(tmp_path / "coco"), input_size=32, batch_size=2, num_workers=0,
                        rotation=30, scale=0.25)
    dm.setup("fit")
    images, kps, box, head = next(iter(dm.train_dataloader()))
    assert images.shape == (2, 3, 32, 32) and images.dtype == torch.float32 and kps.shape == (2, 17, 3)
    assert dm.num_joints == 17 and not dm.has_head_size and head.eq(0).all()
    images, kps, box, head = next(iter(dm.val_dataloader()))
    assert box[0] == pytest.approx(32 / 1.25)  # box's longer side in crop pixels: the PCK normaliser
    dm = PoseDataModule("coco", str(tmp_path / "coco"), input_size=32, batch_size=2, num_workers=0, normaliser="torso")
    dm.setup("validate")
    _, kps, torso, _ = next(iter(dm.val_dataloader()))
    assert torso[0] == pytest.approx(float((kps[0, 5, :2] - kps[0, 12, :2]).norm()))  # left shoulder - right hip
    _mpii(tmp_path / "mpii", split="train")
    _mpii(tmp_path / "mpii", split="valid")
    dm = PoseDataModule("mpii", str(tmp_path / "mpii"), input_size=32, batch_size=2, num_workers=0)
    dm.setup("validate")
    _, kps, box, head = next(iter(dm.val_dataloader()))
    assert kps.shape == (2, 16, 3) and dm.has_head_size and head[0] == pytest.approx(6.0 * 32 / 50)


def test_check_data_fails_fast_with_the_layout(tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)person_keypoints_train2017.json is missing.*cocodataset.org"):
        PoseDataModule.check_data("coco", str(tmp_path))
    with pytest.raises(DatasetError, match=r"(?s)annot/train.json is missing.*mpii"):
        PoseDataModule.check_data(source="mpii", root=str(tmp_path))
    PoseDataModule.check_data("shapes")


def test_person_record_is_frozen():
    p = Person(np.zeros((2, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(AttributeError):
        p.head_size = 1.0  # type: ignore[misc]
