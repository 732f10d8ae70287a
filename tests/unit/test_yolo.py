"""YOLO target encoding/decoding round trips and loss properties (v1 and v3-style anchors)."""

from __future__ import annotations

import torch

from lit_modules.losses.yolo import yolo_anchor_loss, yolo_v1_loss
from lit_modules.nets.yolo import YOLO
from lit_modules.ops.yolo import decode_anchors, decode_v1, encode_anchors, encode_v1, postprocess

SIZE = (96, 96)
BOXES = torch.tensor([[10.0, 12, 40, 50], [50, 20, 90, 44], [30, 60, 46, 92]])
LABELS = torch.tensor([3, 1, 2])
ANCHORS = torch.tensor([[[12, 12], [18, 18], [24, 24]], [[30, 30], [38, 38], [46, 46]]], dtype=torch.float32)
STRIDES = [16, 32]


def _perfect_v1(target: torch.Tensor, nb: int = 2) -> torch.Tensor:
    """The output a perfect v1 net gives: predictor 0 holds the box with confidence 1."""
    s, c = target.shape[0], target.shape[-1] - 5
    out = torch.zeros(s, s, nb * 5 + c)
    out[..., :5] = target[..., :5]
    out[..., nb * 5:] = target[..., 5:]
    return out


def test_v1_encode_decode_round_trip():
    t = encode_v1(BOXES, LABELS, 6, 4, SIZE)
    assert t.shape == (6, 6, 9) and t[..., 4].sum() == 3
    boxes, scores = decode_v1(_perfect_v1(t)[None], 2, SIZE)
    det = postprocess(boxes[0], scores[0], SIZE, score_thresh=0.5)
    order = det["labels"].argsort()
    assert torch.allclose(det["boxes"][order], BOXES[LABELS.argsort()], atol=1e-4)
    assert det["labels"][order].tolist() == [1, 2, 3] and torch.allclose(det["scores"], torch.ones(3))


def test_v1_one_object_per_cell_keeps_the_larger():
    boxes = torch.tensor([[0.0, 0, 30, 30], [5, 5, 20, 20]])  # same cell, the first is larger
    t = encode_v1(boxes, torch.tensor([1, 2]), 3, 2, SIZE)
    assert t[..., 4].sum() == 1 and t[0, 0, 5].item() == 1.0


def test_v1_loss_zero_on_perfect_prediction_positive_otherwise():
    t = encode_v1(BOXES, LABELS, 6, 4, SIZE)[None]
    perfect = _perfect_v1(t[0])[None]
    assert all(v.abs().item() < 1e-6 for v in yolo_v1_loss(perfect, t).values())
    worse = perfect.clone()
    worse[..., 0] += 0.1 * (t[..., 4] > 0)  # shift x of the responsible boxes
    parts = yolo_v1_loss(worse, t)
    # lambda_coord * 3 boxes * 0.1**2, plus the confidence now above the lower IoU
    assert abs(parts["coord"].item() - 5 * 3 * 0.01) < 1e-4 and parts["conf_obj"] > 0


def test_v1_loss_weights_empty_boxes_by_lambda_noobj():
    t = torch.zeros(1, 4, 4, 7)
    out = torch.zeros(1, 4, 4, 12)
    out[..., 4] = 0.5  # one predictor per cell says 0.5 where nothing is
    parts = yolo_v1_loss(out, t, lambda_noobj=0.5)
    assert abs(parts["conf_noobj"].item() - 0.5 * 16 * 0.25) < 1e-6 and parts["coord"] == 0


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.logit(p.clamp(1e-6, 1 - 1e-6))


def _perfect_anchor_outputs(targets: list[torch.Tensor], num_classes: int) -> list[torch.Tensor]:
    outs = []
    for t in targets:
        out = torch.full((*t.shape[:-1], 5 + num_classes), -20.0)
        pos = t[..., 4] == 1
        out[..., :2] = _logit(t[..., :2])
        out[..., 2:4] = t[..., 2:4]
        out[..., 4] = torch.where(pos, 20.0, -20.0)
        cls = torch.nn.functional.one_hot(t[..., 5].long(), num_classes).bool() & pos[..., None]
        out[..., 5:] = torch.where(cls, 20.0, -20.0)
        outs.append(out[None])
    return outs


def test_anchor_encode_decode_round_trip():
    ts = encode_anchors(BOXES, LABELS, ANCHORS, STRIDES, SIZE)
    assert [tuple(t.shape) for t in ts] == [(3, 6, 6, 6), (3, 3, 3, 6)]
    assert sum(int((t[..., 4] == 1).sum()) for t in ts) == 3
    boxes, scores = decode_anchors(_perfect_anchor_outputs(ts, 4), ANCHORS, STRIDES)
    det = postprocess(boxes[0], scores[0], SIZE, score_thresh=0.5)
    order = det["labels"].argsort()
    assert torch.allclose(det["boxes"][order], BOXES[LABELS.argsort()], atol=1e-3)
    assert det["labels"][order].tolist() == [1, 2, 3]


def test_anchor_loss_near_zero_on_perfect_prediction_and_ignores():
    ts = [t[None] for t in encode_anchors(BOXES, LABELS, ANCHORS, STRIDES, SIZE, ignore_iou=0.3)]
    assert any((t[..., 4] == -1).any() for t in ts)  # some anchors are ignored
    perfect = _perfect_anchor_outputs([t[0] for t in ts], 4)
    parts = yolo_anchor_loss(perfect, ts, ANCHORS, SIZE)
    assert sum(parts.values()).item() < 1e-3
    for out, t in zip(perfect, ts):  # an ignored anchor's objectness costs nothing
        out[..., 4] = torch.where(t[..., 4] == -1, 20.0, out[..., 4])
    assert sum(yolo_anchor_loss(perfect, ts, ANCHORS, SIZE).values()).item() < 1e-3


def test_losses_fall_under_sgd_and_are_batch_order_invariant():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 96, 96)
    boxes2 = [BOXES, BOXES[:1]]
    labels2 = [LABELS, LABELS[:1]]
    for head in ("v1", "anchors"):
        net = YOLO(4, head, width=8, stages=4 if head == "v1" else 5, grid=6, num_scales=2)
        if head == "v1":
            t = torch.stack([encode_v1(b, lab, 6, 4, SIZE) for b, lab in zip(boxes2, labels2)])

            def loss(idx=(0, 1), t=t, net=net):
                return sum(yolo_v1_loss(net(x[list(idx)]), t[list(idx)]).values())
        else:
            per = [encode_anchors(b, lab, ANCHORS, [16, 32], SIZE) for b, lab in zip(boxes2, labels2)]

            def loss(idx=(0, 1), per=per, net=net):
                ts = [torch.stack([per[i][s] for i in idx]) for s in range(2)]
                return sum(yolo_anchor_loss(net(x[list(idx)]), ts, ANCHORS, SIZE).values())
        net.eval()  # BN in eval: the same function for both orders
        with torch.no_grad():
            assert torch.allclose(loss((0, 1)), loss((1, 0)), rtol=1e-5)
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
        first = loss().item()
        for _ in range(30):
            opt.zero_grad()
            loss().backward()
            opt.step()
        assert loss().item() < 0.7 * first, head
