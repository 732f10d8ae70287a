"""Non-local block (Wang et al. 2018), embedded-Gaussian version, for 3D feature maps; plain torch.

``z = x + BN(W y)``, ``y_i = sum_j softmax_j(theta(x_i) . phi(x_j)) g(x_j)`` over every
position j of the clip (all T x H x W), so one layer relates any two places and times. The
output BN's scale starts at zero (the paper's initialisation), so an inserted block is the
identity until training moves it and a pretrained net keeps its function.
"""

from __future__ import annotations

from torch import Tensor, nn


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block on ``(B, C, T, H, W)`` -> same shape.

    Args:
        channels: C.
        inter_channels: width of theta / phi / g (paper: C / 2).
        sub_sample: max-pool phi and g spatially by 2 (the paper's cheaper variant).
    """

    def __init__(self, channels: int, inter_channels: int | None = None, sub_sample: bool = False) -> None:
        super().__init__()
        d = inter_channels or max(1, channels // 2)
        self.theta, self.phi, self.g = (nn.Conv3d(channels, d, 1) for _ in range(3))
        self.pool = nn.MaxPool3d((1, 2, 2), ceil_mode=True) if sub_sample else nn.Identity()
        self.out = nn.Sequential(nn.Conv3d(d, channels, 1), nn.BatchNorm3d(channels))
        nn.init.zeros_(self.out[1].weight)  # zero-initialised output BN: the block starts as the identity

    def forward(self, x: Tensor) -> Tensor:
        b, _, t, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)  # (B, THW, d)
        k = self.phi(self.pool(x)).flatten(2)  # (B, d, N)
        v = self.g(self.pool(x)).flatten(2).transpose(1, 2)  # (B, N, d)
        attn = (q @ k).softmax(-1)  # (B, THW, N): embedded Gaussian = softmax of dot products
        y = (attn @ v).transpose(1, 2).reshape(b, -1, t, h, w)  # (B, d, T, H, W)
        return x + self.out(y)
