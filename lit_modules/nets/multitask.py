"""One encoder, two heads (class logits and a box), plain PyTorch."""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.ops import box_convert


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class MultiTaskNet(nn.Module):
    """A 4-block conv encoder shared by a class head and a box head.

    ``forward`` gives ``(logits (B, C), boxes (B, 4))``, boxes as ``x0, y0, x1, y1`` in [0, 1] (from a
    sigmoid centre and size, so always well formed). The encoder keeps spatial layout until the last
    block (4x4 at 64 px) and flattens it: a box needs to know where, which global pooling would lose.
    """

    def __init__(self, num_classes: int, width: int = 32, image_size: int = 64) -> None:
        super().__init__()
        w = width
        self.encoder = nn.Sequential(_block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 4 * w),
                                     nn.Flatten())  # (B, 4w, s/16, s/16) -> (B, F)
        dim = 4 * w * (image_size // 16) ** 2
        self.class_head = nn.Sequential(nn.Linear(dim, 256), nn.ReLU(inplace=True), nn.Linear(256, num_classes))
        self.box_head = nn.Sequential(nn.Linear(dim, 256), nn.ReLU(inplace=True), nn.Linear(256, 4), nn.Sigmoid())

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        feats = self.encoder(images)  # (B, F)
        return self.class_head(feats), box_convert(self.box_head(feats), "cxcywh", "xyxy")  # (B, C), (B, 4)
