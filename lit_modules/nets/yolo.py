"""YOLO networks: a Darknet-style conv backbone with the v1 grid head or a v3-style anchor head.

Both heads are single-shot: one forward pass gives every box. v1 (Redmon 2016) predicts, for
each of S x S cells, B boxes (x, y, sqrt w, sqrt h, confidence) and one set of C class
probabilities; v3 (Redmon 2018) predicts, at several strides, A anchor-relative boxes per cell
each with an objectness and C independent class logits.
"""

from __future__ import annotations

from torch import Tensor, nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv-BN-LeakyReLU(0.1), Darknet's unit."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(0.1, inplace=True))


class DarknetSmall(nn.Module):
    """``stages`` stride-2 stages (3x3 down, 1x1 squeeze, 3x3), channels ``width * 2**i`` capped at 8x.

    Args:
        width: channels of the first stage.
        stages: number of stages; the last output has stride ``2**stages``.

    Returns: the output of every stage, ``[(B, c_i, H / 2**(i+1), W / 2**(i+1))]``.
    """

    def __init__(self, width: int = 32, stages: int = 5) -> None:
        super().__init__()
        self.channels: list[int] = []
        blocks, cin = [], 3
        for i in range(stages):
            c = width * min(2 ** i, 8)
            blocks.append(nn.Sequential(conv_bn(cin, c, 3, 2), conv_bn(c, c // 2, 1), conv_bn(c // 2, c, 3)))
            self.channels.append(c)
            cin = c
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: Tensor) -> list[Tensor]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats


class YOLOv1Head(nn.Module):
    """S x S x (B*5 + C) outputs in [0, 1] (sigmoid; the paper's last layer is linear).

    Args:
        cin: channels of the backbone's last map.
        grid: S.
        boxes: B, boxes per cell.
        num_classes: C.
        fc_hidden: width of the paper's fully connected layer (4096); 0 = convolutional head
            (a 1x1 conv on the S x S map, fewer parameters for small data).
    """

    def __init__(self, cin: int, grid: int, boxes: int, num_classes: int, fc_hidden: int = 0) -> None:
        super().__init__()
        self.grid, self.out = grid, boxes * 5 + num_classes
        self.conv = nn.Sequential(conv_bn(cin, cin, 3), nn.AdaptiveAvgPool2d(grid))
        if fc_hidden:
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * grid * grid, fc_hidden), nn.LeakyReLU(0.1),
                                      nn.Dropout(0.5), nn.Linear(fc_hidden, grid * grid * self.out))
        else:
            self.head = nn.Conv2d(cin, self.out, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.head(self.conv(x))
        y = y.view(len(x), self.out, self.grid, self.grid) if y.ndim == 2 else y  # FC: (B, S*S*out) -> (B, out, S, S)
        return y.permute(0, 2, 3, 1).sigmoid()  # (B, S, S, B*5 + C)


class YOLOAnchorHead(nn.Module):
    """v3-style multi-scale head: top-down merge of the last ``len(anchors)`` maps, raw logits out.

    Args:
        channels: channels of the backbone maps used, finest first.
        anchors_per_scale: A.
        num_classes: C.

    Returns: per scale (finest first) raw outputs ``(B, A, H_s, W_s, 5 + C)``:
        ``tx, ty, tw, th, objectness, class logits``.
    """

    def __init__(self, channels: list[int], anchors_per_scale: int, num_classes: int) -> None:
        super().__init__()
        self.a, self.out = anchors_per_scale, 5 + num_classes
        self.lateral = nn.ModuleList(conv_bn(c, c // 2, 1) for c in channels)
        self.reduce = nn.ModuleList(conv_bn(channels[i + 1] // 2, channels[i] // 2, 1)
                                    for i in range(len(channels) - 1))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.pred = nn.ModuleList(nn.Sequential(conv_bn(c // 2, c, 3), nn.Conv2d(c, self.a * self.out, 1))
                                  for c in channels)
        for m in self.pred:  # objectness prior 0.01: the many empty anchors do not swamp the first steps
            bias = m[-1].bias.data.view(self.a, self.out)
            bias[:, 4] = -4.6

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        lat = [m(f) for m, f in zip(self.lateral, feats)]
        for i in range(len(lat) - 2, -1, -1):  # coarse to fine, as v3 routes deep features up
            lat[i] = lat[i] + self.up(self.reduce[i](lat[i + 1]))
        outs = []
        for m, x in zip(self.pred, lat):
            y = m(x)
            b, _, h, w = y.shape
            outs.append(y.view(b, self.a, self.out, h, w).permute(0, 1, 3, 4, 2))  # (B, A, H, W, 5 + C)
        return outs


class YOLO(nn.Module):
    """Backbone + head. ``head="v1"``: (B, S, S, B*5 + C) in [0, 1]; ``"anchors"``: list of raw maps.

    Args:
        num_classes: C.
        head: "v1" or "anchors".
        width: first-stage channels of the backbone.
        stages: backbone stages (output stride ``2**stages``).
        grid: v1's S.
        boxes_per_cell: v1's B.
        fc_hidden: v1's FC width (0: conv head).
        num_scales: anchor head scales (the last ``num_scales`` backbone maps).
        anchors_per_scale: A.
    """

    def __init__(self, num_classes: int, head: str = "v1", width: int = 32, stages: int = 5, grid: int = 7,
                 boxes_per_cell: int = 2, fc_hidden: int = 0, num_scales: int = 3, anchors_per_scale: int = 3) -> None:
        super().__init__()
        self.backbone = DarknetSmall(width, stages)
        self.kind, self.num_scales = head, num_scales
        if head == "v1":
            self.head = YOLOv1Head(self.backbone.channels[-1], grid, boxes_per_cell, num_classes, fc_hidden)
        else:
            self.head = YOLOAnchorHead(self.backbone.channels[-num_scales:], anchors_per_scale, num_classes)

    def forward(self, x: Tensor) -> Tensor | list[Tensor]:
        feats = self.backbone(x)
        return self.head(feats[-1]) if self.kind == "v1" else self.head(feats[-self.num_scales:])
