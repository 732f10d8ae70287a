"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012), plain PyTorch.

The paper's five conv layers (96-256-384-384-256), ReLU, local response normalisation after
conv1/conv2, overlapping 3x3/stride-2 max pooling and two dropout FC layers. Switches for
the ablations the paper reports (Sec. 3.3 LRN, 3.4 overlapping pooling, 4.2 dropout), and a
width multiplier / FC size / stem stride so the same net runs on small ShapesWorld images.
"""

from __future__ import annotations

from torch import Tensor, nn


class AlexNet(nn.Module):
    """AlexNet.

    Args:
        num_classes: output logits.
        lrn: local response normalisation after conv1 and conv2 (paper: k=2, n=5, a=1e-4, b=0.75).
        dropout: dropout probability before each hidden FC layer (0 disables it).
        overlap_pool: 3x3 stride-2 pooling (paper) instead of non-overlapping 2x2 stride 2.
        grouped: the paper's two-GPU split (groups=2 on conv2, conv4, conv5): 61.0 M params.
        width: multiplier on conv channels (1.0 = paper).
        fc_dim: hidden FC width (4096 in the paper).
        stem_stride: stride of the 11x11 conv1 (4 in the paper; 2 keeps detail on 64 px input).
        pool_output: side of the adaptive pool before the classifier (6 at 224 px in the paper).
        stem_kernel: side of conv1's kernel (11 in the paper; ZFNet's fix: 7, with stride 2).
        conv2_stride: stride of conv2 (1 in the paper; ZFNet: 2, keeping 6x6 before the FCs at 224 px).

    Input ``(B, 3, H, W)`` float, output ``(B, num_classes)`` logits.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        lrn: bool = True,
        dropout: float = 0.5,
        overlap_pool: bool = True,
        grouped: bool = False,
        width: float = 1.0,
        fc_dim: int = 4096,
        stem_stride: int = 4,
        pool_output: int = 6,
        stem_kernel: int = 11,
        conv2_stride: int = 1,
    ) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = (max(8, round(c * width)) for c in (96, 256, 384, 384, 256))
        g = 2 if grouped else 1

        def pool() -> nn.Module:
            return nn.MaxPool2d(3, 2) if overlap_pool else nn.MaxPool2d(2, 2)

        def norm() -> nn.Module:
            # Paper Sec. 3.3: b = a / (k + alpha/n * sum a^2)^beta; torch divides alpha by size too.
            return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0) if lrn else nn.Identity()

        self.features = nn.Sequential(
            # padding 2 for 11x11 (torchvision's 55x55 at 224 px), 1 for ZFNet's 7x7 (the paper's 110x110)
            nn.Conv2d(3, c1, stem_kernel, stride=stem_stride, padding=2 if stem_kernel == 11 else 1),
            nn.ReLU(inplace=True), norm(), pool(),
            nn.Conv2d(c1, c2, 5, stride=conv2_stride, padding=2, groups=g), nn.ReLU(inplace=True), norm(), pool(),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, padding=1, groups=g), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, padding=1, groups=g), nn.ReLU(inplace=True), pool(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(pool_output)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c5 * pool_output**2, fc_dim), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True),
            nn.Linear(fc_dim, num_classes),
        )
        for m in self.modules():
            # He init (not the paper's N(0, 0.01)): without it the net sits at chance for
            # thousands of steps, which the paper's 90-epoch schedule could afford.
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))  # (B, C5, P, P)
        return self.classifier(x.flatten(1))  # (B, C5*P*P) -> (B, num_classes)
