"""R-CNN and Fast R-CNN: warping with context, window sampling, the SVD switch, the SVMs, the proposal cache."""

from __future__ import annotations

import pytest
import torch

import datamodules.proposals as proposals_mod
from contracts.errors import DatasetError
from datamodules.proposals import ProposalDetectionDataModule
from lit_modules.fast_rcnn import FastRCNNModule
from lit_modules.nets.svd import truncated_svd
from lit_modules.ops.regions import label_regions, sample_windows, warp_regions, with_context
from lit_modules.ops.selective_search import selective_search
from lit_modules.ops.svm import train_svms
from lit_modules.rcnn import RCNNModule

WORLD = {"image_size": 64, "kinds": ["circle", "square", "star"]}


def _dm(tmp_path, **kw) -> ProposalDetectionDataModule:
    args = {"image_size": 64, "world": WORLD, "batch_size": 2, "train_size": 4, "val_size": 2,
            "proposal_dir": str(tmp_path), "proposals": "single"} | kw
    return ProposalDetectionDataModule(**args)


def test_context_dilates_about_the_centre_to_the_papers_fraction():
    box = torch.tensor([[10.0, 20.0, 50.0, 40.0]])
    out = with_context(box, size=227, context=16)
    assert torch.allclose((out[:, :2] + out[:, 2:]) / 2, (box[:, :2] + box[:, 2:]) / 2)
    # the box fills 227 - 2 * 16 = 195 of the 227-pixel window
    assert torch.allclose((box[:, 2:] - box[:, :2]) / (out[:, 2:] - out[:, :2]), torch.tensor(195 / 227))


def test_warp_shows_the_box_inside_and_its_surround_in_the_context_band():
    image = torch.zeros(3, 64, 64)
    image[:, 16:48, 24:40] = 1.0  # a 16 x 32 (w x h) bright box, anisotropically warped to a square
    win = warp_regions([image], [torch.tensor([[24.0, 16.0, 40.0, 48.0]])], size=32, context=4)
    assert win.shape == (1, 3, 32, 32)
    assert win[0, :, 6:26, 6:26].min() > 0.99  # inside the box (clear of the bilinear edge)
    assert win[0, :, :, :3].max() < 0.01 and win[0, :, :3, :].max() < 0.01  # the 4-px band: surround
    # a box at the image corner: outside the image pads with 0 (the normalised mean, as in the paper)
    corner = warp_regions([torch.ones(3, 64, 64)], [torch.tensor([[0.0, 0.0, 16.0, 16.0]])], size=32, context=8)
    assert corner[0, :, 0, 0].abs().max() < 0.01 and corner[0, :, 20, 20].min() > 0.99


def test_sampling_takes_32_positives_and_96_background_and_fills_with_background():
    labels = torch.cat([torch.randint(1, 4, (200,)), torch.zeros(1000, dtype=torch.int64)])
    idx = sample_windows(labels, 32, 96)
    assert len(idx) == 128 and len(idx.unique()) == 128 and (labels[idx] > 0).sum() == 32
    few = torch.cat([torch.ones(10, dtype=torch.int64), torch.zeros(1000, dtype=torch.int64)])
    idx = sample_windows(few, 32, 96)
    assert len(idx) == 128 and (few[idx] > 0).sum() == 10


def test_labels_follow_the_iou_threshold():
    gt, gl = torch.tensor([[0.0, 0, 10, 10]]), torch.tensor([3])
    regions = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 19], [0, 0, 10, 21], [50, 50, 60, 60]])
    labels, _, iou = label_regions(regions, gt, gl, 0.5)
    assert labels.tolist() == [3, 3, 0, 0] and iou[0] == 1


def test_truncated_svd_is_exact_at_full_rank_and_close_on_a_low_rank_layer():
    torch.manual_seed(0)
    fc = torch.nn.Linear(40, 30)
    x = torch.randn(5, 40)
    assert torch.allclose(truncated_svd(fc, 30)(x), fc(x), atol=1e-5)
    with torch.no_grad():  # rank 6 plus a little noise: rank-8 SVD keeps nearly all of it
        fc.weight.copy_(torch.randn(30, 6) @ torch.randn(6, 40) + 1e-3 * torch.randn(30, 40))
    small = truncated_svd(fc, 8)
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in fc.parameters())
    assert (small(x) - fc(x)).abs().max() < 0.02 * fc(x).abs().max()


def test_fast_rcnn_svd_switch_scores_like_the_full_head(tmp_path):
    dm = _dm(tmp_path)
    dm.setup("fit")
    images, targets = next(iter(dm.val_dataloader()))
    kw = {"num_classes": 3, "backbone": "small", "width": 8, "representation": 32, "min_size": 64, "max_size": 64}
    torch.manual_seed(0)
    full = FastRCNNModule(**kw).eval()
    svd = FastRCNNModule(**kw, truncated_svd=32).eval()
    svd.load_state_dict(full.state_dict())
    props = [t["proposals"] for t in targets]
    a, b = full(images, props), svd(images, props)
    for p, q in zip(a, b):
        assert len(p["boxes"]) == len(q["boxes"]) and torch.allclose(p["scores"], q["scores"], atol=1e-4)
    low = FastRCNNModule(**kw, truncated_svd=4).eval()
    low.load_state_dict(full.state_dict())
    assert low._head() is not full.net.roi_heads.box_head
    assert low._head().fc6[0].out_features == 4


def test_svms_separate_linearly_separable_features():
    torch.manual_seed(0)
    pos = torch.randn(40, 8) + torch.tensor([4.0] + [0] * 7)
    neg = torch.randn(400, 8)
    w, b, _ = train_svms(pos, torch.ones(40, dtype=torch.int64), neg, torch.zeros(400, 1), 1, C=1.0, rounds=1)
    assert ((pos @ w[0] + b[0]) > 0).float().mean() > 0.9 and ((neg @ w[0] + b[0]) < 0).float().mean() > 0.9


def test_cache_is_reused_and_a_cache_from_other_settings_is_refused(tmp_path):
    dm = _dm(tmp_path)
    dm.setup("fit")
    _, target = dm._train[0]
    assert target["proposals"].ndim == 2 and target["proposals"].shape[1] == 4
    assert dm.proposal_seconds["train"] > 0 and (tmp_path / "shapes_train_single.pt").is_file()
    again = _dm(tmp_path)
    again.setup("fit")
    assert again.proposal_seconds == dm.proposal_seconds  # read back, with the recorded time
    other = _dm(tmp_path, train_size=5)
    with pytest.raises(DatasetError, match=r"'images': 4.*but this run needs.*'images': 5"):
        other.setup("fit")


def test_denser_selective_search_settings_give_more_boxes_in_image_pixels_and_a_cache_of_their_own(tmp_path):
    # the papers' ~2000 boxes an image: a smaller segmentation threshold on the image resized first
    dense = _dm(tmp_path, proposals="quality", proposal_k=50, proposal_scale=2.0)
    dense.setup("validate")
    saved = torch.load(tmp_path / "shapes_val_quality-k50-x2.pt", weights_only=False)
    assert saved["key"]["k"] == 50 and saved["key"]["scale"] == 2.0
    image, target = dense._val[0]
    boxes = target["proposals"]
    assert boxes.min() >= 0 and boxes.max() <= 64  # mapped back to the 64 px image
    assert len(boxes) > 1.5 * len(selective_search(image, "quality"))
    default = _dm(tmp_path, proposals="quality")
    assert "k" not in default._key(False, 2) and default.cache_path(default._key(False, 2)).name == "shapes_val_quality.pt"


def test_images_without_proposals_are_counted_and_still_evaluated(tmp_path, monkeypatch):
    real = proposals_mod.selective_search
    calls = iter(range(100))
    monkeypatch.setattr(proposals_mod, "selective_search",
                        lambda image, *a, **kw: real(image, *a, **kw)[:0] if next(calls) == 0 else real(image, *a, **kw))
    dm = _dm(tmp_path)
    dm.setup("fit")
    assert dm.empty_proposals["train"] == 1
    model = RCNNModule(num_classes=3, backbone="small", width=8, representation=32, window=32, context=2).eval()
    images, targets = zip(*[dm._train[i] for i in range(2)])
    preds = model.predict_batch(list(images), list(targets))
    assert len(preds) == 2 and any(len(p["boxes"]) == 0 for p in preds)  # the empty image: no detection, no crash
    loss = sum(model.train().losses(list(images), list(targets)).values())  # trained on its ground truth
    assert torch.isfinite(loss)


@pytest.mark.parametrize("cls", [RCNNModule, FastRCNNModule])
def test_detect_stages_times_the_three_stages(cls):
    kw = {"num_classes": 3, "backbone": "small", "width": 8, "representation": 32}
    kw |= {"window": 32, "context": 2} if cls is RCNNModule else {"min_size": 64, "max_size": 64}
    model = cls(**kw).eval()
    images = [torch.rand(3, 64, 64)]
    preds, seconds = model.detect_stages(images)
    assert len(preds) == 1 and set(seconds) == {"proposals", "features", "head"}
    assert all(v > 0 for v in seconds.values())
    cached = [torch.tensor([[4.0, 4.0, 40.0, 40.0], [10.0, 20.0, 60.0, 50.0]])]  # proposals found before
    preds, seconds = model.detect_stages(images, cached)
    assert len(preds) == 1 and seconds["proposals"] == 0 and seconds["features"] > 0 and seconds["head"] > 0


def test_recall_counts_boxes_covered_by_the_first_n_proposals():
    from experiments.proposal_recall import recall_curve

    gts = [torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]])]
    props = [torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 34]])]  # IoU 1, 0, 10/14
    curve = recall_curve(props, gts, counts=(1, 2, 3), ious=(0.5, 0.75))
    assert curve[0.5] == [0.5, 0.5, 1.0] and curve[0.75] == [0.5, 0.5, 0.5]


def test_rcnn_weights_restore_the_svms_with_the_net(tmp_path):
    kw = {"num_classes": 3, "backbone": "small", "width": 8, "representation": 32, "window": 32, "context": 2}
    model = RCNNModule(**kw)
    model.svm_w.normal_()
    model.svm_ready.fill_(True)
    torch.save({"state_dict": model.state_dict()}, tmp_path / "r.ckpt")
    again = RCNNModule(**kw, weights=str(tmp_path / "r.ckpt"))
    assert torch.equal(again.svm_w, model.svm_w) and bool(again.svm_ready)
    assert torch.equal(again.net.cls.weight, model.net.cls.weight)


def test_a_disk_source_without_its_proposal_files_fails_naming_the_layout(tmp_path):
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    for split in ("trainval", "test"):
        (tmp_path / "ImageSets" / "Main" / f"{split}.txt").write_text("000005\n")
    with pytest.raises(DatasetError, match=r"(?s)proposals/voc_trainval_fast\.pt.*Expected layout"):
        ProposalDetectionDataModule.check_data(source="voc", root=str(tmp_path), proposals="fast", proposal_dir=None,
                                               train_split="trainval", val_split="test")


def test_rcnn_and_fast_rcnn_demos_keep_the_papers_proportions():
    # the speed table compares them: the same backbone and head width, R-CNN's warp a paper-like share of the image
    import yaml

    from tests.conftest import ROOT

    r, f = (yaml.safe_load((ROOT / f"configs/{m}/demo.yaml").read_text()) for m in ("rcnn", "fast_rcnn"))
    rm, fm = r["model"]["init_args"], f["model"]["init_args"]
    assert all(rm[k] == fm[k] for k in ("backbone", "width", "representation", "pool"))
    assert r["data"]["init_args"]["world"] == f["data"]["init_args"]["world"]
    share = rm["window"] / r["data"]["init_args"]["image_size"]  # paper: 227 px of a ~500 px VOC image, 0.45
    assert 0.4 <= share <= 0.55
    assert rm["context"] / rm["window"] == pytest.approx(16 / 227, rel=0.15)  # 16 px at 227 (3 px at 48)


def test_pool_gives_both_detectors_one_head_whatever_the_window():
    from lit_modules.nets.fast_rcnn import FastRCNN
    from lit_modules.nets.region_cnn import RegionCNN

    for window in (32, 48):  # 4x4 or 6x6 window maps, both pooled to 3x3: fc6 sees 32 x 3 x 3
        net = RegionCNN(3, "small", window, width=8, representation=16, pool=3)
        assert net.fc[2].in_features == 32 * 9
        assert net.features(torch.rand(2, 3, window, window)).shape == (2, 16)
    assert RegionCNN(3, "small", 48, width=8, representation=16).fc[2].in_features == 32 * 36  # no pool: 6x6
    fast = FastRCNN(3, "small", width=8, representation=16, min_size=64, max_size=64, pool=3)
    assert fast.roi_heads.box_head.fc6.in_features == 32 * 9
    # the pool adds no weight: a checkpoint of the unpooled net keeps its keys
    assert set(RegionCNN(3, "small", 48, width=8, pool=3).state_dict()) == set(RegionCNN(3, "small", 48, width=8).state_dict())


def test_misses_names_the_objects_the_first_proposals_do_not_cover():
    from experiments.proposal_recall import misses

    gts = [torch.tensor([[0.0, 0, 10, 10], [20, 20, 32, 28]])]
    rpn = [torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 32, 28]])]  # the second object only at rank 3
    ss = [torch.tensor([[20.0, 20, 32, 27]])]
    out = misses(rpn, ss, gts, top=2)
    assert [(m["image"], m["size"]) for m in out] == [(0, "12x8")]
    assert out[0]["best_iou"] == 0 and out[0]["other_best_iou"] == pytest.approx(84 / 96)
    assert misses(rpn, ss, gts, top=3) == []
