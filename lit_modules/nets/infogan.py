"""InfoGAN's recognition network Q (Chen et al., NIPS 2016, appendix C): on top of the
discriminator's features, FC 128 - BN - LeakyReLU - FC to the categorical code's logits and the
continuous codes' means (a factored Gaussian of fixed unit variance).

I/O: features (B, F) -> (cat_logits (B, K), cont_mean (B, n_cont)).
"""

from __future__ import annotations

from torch import Tensor, nn


class QHead(nn.Module):
    """Q(c | x) from the critic's pooled features.

    Args:
        in_features: the critic's feature width.
        categorical: values K of the categorical code (0: none).
        continuous: number of continuous codes.
        hidden: width of the hidden layer (paper: 128).
    """

    def __init__(self, in_features: int, categorical: int, continuous: int, hidden: int = 128) -> None:
        super().__init__()
        self.categorical, self.continuous = categorical, continuous
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2, True),
                                 nn.Linear(hidden, categorical + continuous))

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(features)  # (B, K + n_cont)
        return out[:, : self.categorical], out[:, self.categorical :]
