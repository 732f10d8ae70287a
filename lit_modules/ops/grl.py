"""Gradient reversal layer (Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015).

Identity in the forward pass; in the backward pass the gradient is multiplied by ``-lambda``.
Put between a feature extractor and a domain classifier, it lets one SGD step minimise the
domain classifier's loss with respect to the classifier while *maximising* it with respect to
the features (paper Eq. 9-10), so that the features become domain-invariant.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, lambd: float) -> Tensor:  # type: ignore[override]
        ctx.lambd = lambd
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return -ctx.lambd * grad, None


def grad_reverse(x: Tensor, lambd: float = 1.0) -> Tensor:
    """``x`` unchanged; its gradient multiplied by ``-lambd`` on the way back."""
    return _GradReverse.apply(x, lambd)


class GradientReversal(nn.Module):
    """``grad_reverse`` as a layer; ``lambd`` is set from outside as training goes (``dann_lambda``)."""

    def __init__(self, lambd: float = 1.0) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return grad_reverse(x, self.lambd)


def dann_lambda(p: float, gamma: float = 10.0) -> float:
    """The paper's adaptation factor ``2 / (1 + exp(-gamma p)) - 1`` at training progress ``p`` in [0, 1]:
    0 at the start (the domain classifier's noisy early signal is suppressed), towards 1 at the end."""
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0
