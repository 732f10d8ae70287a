"""Combining task losses: fixed weights, or Kendall, Gal & Cipolla 2018's homoscedastic uncertainty.

Kendall et al. (CVPR 2018, Eq. 7 and 10) weight each task by a learned noise ``sigma_i``: a
classification loss by ``1 / sigma^2`` and a regression loss by ``1 / (2 sigma^2)``, each plus
``log sigma`` so the noise cannot grow without cost. With ``s = log sigma^2`` (stable to learn):
``exp(-s) L + s / 2`` for classification and ``exp(-s) L / 2 + s / 2`` for regression. At the
optimum ``exp(s) = 2 L`` (classification) or ``L`` (regression), so a task whose loss is large
gets a small weight.
"""

from __future__ import annotations

import torch
from torch import Tensor


def uncertainty_weighted(losses: Tensor, log_vars: Tensor, regression: Tensor) -> Tensor:
    """Kendall 2018's total loss.

    Args:
        losses: ``(T,)`` task losses.
        log_vars: ``(T,)`` learned ``s_i = log sigma_i^2``.
        regression: ``(T,)`` bool, True where the task is a regression (factor 1/2 on its loss).

    Returns:
        A scalar: ``sum_i c_i exp(-s_i) L_i + s_i / 2`` with ``c_i = 1/2`` for regression, else 1.
    """
    scale = torch.where(regression, 0.5, 1.0).to(losses)
    return (scale * torch.exp(-log_vars) * losses + 0.5 * log_vars).sum()
