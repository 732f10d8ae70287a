"""LARS (You et al. 2017, "Large Batch Training of Convolutional Networks"), as SimCLR uses it.

SGD with momentum whose step for each weight tensor is scaled by the trust ratio
``eta * ||w|| / ||g + wd * w||``. Groups with ``lars=False`` (biases, norms, the linear probe:
SimCLR excludes BN and bias parameters from LARS adaptation and weight decay) take plain SGD.
"""

from __future__ import annotations

import torch
from torch.optim import Optimizer


class LARS(Optimizer):
    """LARS over SGD with momentum.

    Args:
        params: parameters or groups; a group's ``lars`` (default True) switches adaptation.
        lr: learning rate (SimCLR: 0.3 x batch / 256).
        momentum: heavy-ball momentum.
        weight_decay: L2 added to the gradient before the trust ratio.
        eta: trust coefficient (1e-3 in SimCLR's code).
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 eta: float = 1e-3) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "eta": eta, "lars": True})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=group["weight_decay"])
                if group["lars"]:
                    w_norm, g_norm = p.norm(), g.norm()
                    trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, 1.0)
                    g = g.mul(trust)
                buf = self.state[p].get("momentum_buffer")
                if buf is None:
                    buf = self.state[p]["momentum_buffer"] = g.clone()
                else:
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])
        return loss
