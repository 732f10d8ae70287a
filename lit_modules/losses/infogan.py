"""InfoGAN's mutual-information term (Chen et al. 2016, eq. 5): the variational lower bound
L_I(G, Q) = E[log Q(c | G(z, c))] + H(c); H(c) is a constant, so the loss is the negative
log-likelihood of the codes that made the samples under Q.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def mutual_information_loss(cat_logits: Tensor, cont_mean: Tensor, cat_codes: Tensor, cont_codes: Tensor,
                            continuous_weight: float = 1.0) -> Tensor:
    """-E log Q(c|x): cross-entropy of the categorical code + weight · Gaussian NLL (unit variance, no constant).

    Args:
        cat_logits: Q's logits (B, K) (K = 0: no categorical code).
        cont_mean: Q's means (B, n_cont) of the continuous codes.
        cat_codes: the categorical codes used, int64 (B,).
        cont_codes: the continuous codes used (B, n_cont).
        continuous_weight: λ of the continuous part (paper: 0.1 relative to the categorical part's 1,
            sec. 7; with unit variance the NLL is 0.5·(c - μ)²).

    Returns a scalar >= 0; 0 only when Q recovers every code exactly and is certain of the categorical one.
    """
    loss = cat_logits.new_zeros(())
    if cat_logits.shape[1] > 0:
        loss = loss + F.cross_entropy(cat_logits, cat_codes)
    if cont_mean.shape[1] > 0:
        loss = loss + continuous_weight * 0.5 * (cont_codes - cont_mean).pow(2).sum(1).mean()
    return loss
