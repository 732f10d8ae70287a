"""Detector modules: output contracts in train and eval mode, RoI ops, backbones, local weights."""

from __future__ import annotations

import pytest
import torch

from contracts.errors import ConfigError
from datamodules.detection import DetectionDataModule
from lit_modules.faster_rcnn import FasterRCNNModule
from lit_modules.mask_rcnn import MaskRCNNModule
from lit_modules.nets.det_backbones import build_backbone
from lit_modules.ops.roi import MultiScaleRoIPool, roi_pooler
from lit_modules.yolo import YOLOModule

SMALL = {"backbone": "small", "width": 8, "representation": 64, "min_size": 64, "max_size": 64,
         "rpn_post_nms_train": 50, "rpn_post_nms_test": 20, "box_batch_size": 32}
ANCHORS = [[(12, 12), (20, 20)], [(30, 30), (48, 48)]]


@pytest.fixture(scope="module")
def batch():
    dm = DetectionDataModule(image_size=64, world={"image_size": 64, "kinds": ["circle", "square", "star"]},
                             masks=True, batch_size=2, train_size=2, val_size=2)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


def _check_preds(preds, n, size=64, masks=False):
    assert len(preds) == n
    for p in preds:
        k = len(p["boxes"])
        assert p["boxes"].shape == (k, 4) and p["scores"].shape == (k,) and p["labels"].shape == (k,)
        assert k == 0 or (p["labels"].min() >= 1 and p["boxes"].max() <= size)
        if masks:
            assert p["masks"].shape == (k, size, size) and p["masks"].dtype == torch.bool


@pytest.mark.parametrize("cls", [FasterRCNNModule, MaskRCNNModule])
@pytest.mark.parametrize("roi_op", ["align", "pool"])
def test_rcnn_train_losses_and_eval_predictions(batch, cls, roi_op):
    images, targets = batch
    m = cls(num_classes=3, roi_op=roi_op, **SMALL)
    m.train()
    losses = m.losses(images, targets)
    expected = {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}
    assert set(losses) == expected | ({"loss_mask"} if cls is MaskRCNNModule else set())
    sum(losses.values()).backward()
    assert m.net.backbone[0][0].weight.grad is not None
    m.eval()
    with torch.no_grad():
        _check_preds(m(images), 2, masks=cls is MaskRCNNModule)


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_mask_head_depth_follows_mask_layers(layers):
    m = MaskRCNNModule(num_classes=3, mask_layers=layers, **SMALL)
    convs = [c for c in m.net.roi_heads.mask_head.modules() if isinstance(c, torch.nn.Conv2d)]
    assert len(convs) == layers and all(c.kernel_size == (3, 3) for c in convs)


@pytest.mark.parametrize("head", ["v1", "anchors"])
def test_yolo_train_losses_and_eval_predictions(batch, head):
    images, targets = batch
    m = YOLOModule(num_classes=3, head=head, width=8, stages=3 if head == "v1" else 5, grid=8, fc_hidden=0 if head == "v1" else 16,
                   anchors=ANCHORS)
    m.train()
    losses = m.losses(images, targets)
    assert all(v.ndim == 0 and v >= 0 for v in losses.values())
    m.eval()
    with torch.no_grad():
        _check_preds(m(images), 2)
    assert head == "v1" or m.strides == [16, 32]  # the last two of 5 stages


def test_yolo_v1_fc_head_shape():
    m = YOLOModule(num_classes=3, head="v1", width=8, stages=3, grid=7, fc_hidden=32, anchors=ANCHORS)
    assert m.net(torch.rand(2, 3, 64, 64)).shape == (2, 7, 7, 2 * 5 + 3)


def test_roi_pool_matches_torchvision_roi_pool_per_level():
    from torchvision.ops import roi_pool

    feats = {"0": torch.rand(1, 4, 32, 32), "1": torch.rand(1, 4, 16, 16)}
    boxes = [torch.tensor([[0.0, 0, 20, 20], [4, 4, 120, 120]])]
    pooled = MultiScaleRoIPool(["0", "1"], 7)(feats, boxes, [(128, 128)])
    assert pooled.shape == (2, 4, 7, 7)
    rois = torch.cat([torch.zeros(2, 1), boxes[0]], 1)
    levels = pooled.new_tensor([0, 1]).long()  # small box -> fine level, large -> coarse (canonical 224 at level 4)
    for r, lvl in enumerate(levels.tolist()):
        name, scale = str(lvl), 1 / 4 if lvl == 0 else 1 / 8
        expected = roi_pool(feats[name], rois[r:r + 1], 7, scale)
        assert torch.allclose(pooled[r:r + 1], expected)
    assert not torch.allclose(roi_pooler("align", ["0", "1"], 7)(feats, boxes, [(128, 128)]), pooled)


@pytest.mark.parametrize("name, channels", [("vgg16", 512), ("resnet50_fpn", 256)])
def test_paper_backbones_build_without_downloads(name, channels):
    bb = build_backbone(name)
    assert bb.body.out_channels == channels
    out = bb.body(torch.rand(1, 3, 64, 64))
    assert (out.shape[1] if torch.is_tensor(out) else out["0"].shape[1]) == channels


def test_weights_load_from_local_file_only(tmp_path, batch):
    a = FasterRCNNModule(num_classes=3, **SMALL)
    torch.save(a.net.state_dict(), tmp_path / "det.pt")
    b = FasterRCNNModule(num_classes=3, weights=str(tmp_path / "det.pt"), **SMALL)
    for (k, va), vb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(va, vb), k
    with pytest.raises(ConfigError, match="nothing is downloaded"):
        FasterRCNNModule(num_classes=3, weights=str(tmp_path / "missing.pt"), **SMALL)


def test_media_images_carry_predicted_and_true_boxes_and_masks():
    from lit_modules.metrics.det_media import log_detection_media

    class Run:
        def __init__(self):
            self.logged = {}

        def log(self, data):
            self.logged.update(data)

    masks = torch.zeros(1, 32, 32, dtype=torch.uint8)
    masks[0, 4:10, 4:12] = 1
    target = {"boxes": torch.tensor([[4.0, 4, 12, 10]]), "labels": torch.tensor([2]), "masks": masks}
    pred = {"boxes": torch.tensor([[4.0, 4, 12, 10], [0, 0, 5, 5]]), "labels": torch.tensor([2, 1]),
            "scores": torch.tensor([0.9, 0.1]), "masks": torch.cat([masks, masks]).bool()}
    run = Run()
    log_detection_media(run, [(torch.rand(3, 32, 32), pred, target)], "val/predictions")
    image = run.logged["val/predictions"][0]
    boxes = image._boxes
    assert len(boxes["predictions"]._val) == 1  # the 0.1-score box is below min_score
    assert boxes["ground_truth"]._val[0]["class_id"] == 2
    assert set(image._masks) == {"predictions", "ground_truth"}


@pytest.mark.parametrize("module", [lambda: YOLOModule(num_classes=3, width=8, stages=3, grid=8),
                                    lambda: FasterRCNNModule(num_classes=3, **SMALL)])
def test_perf_monitor_counts_detector_flops(module, batch):
    # Detectors return lists of dicts (and YOLO decodes in place): MFU still needs their FLOPs.
    from experiments.callbacks import PerfMonitor

    flops = PerfMonitor()._measure_flops(module(), batch)
    assert flops is not None and flops > 1e6
