"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, Proc. IEEE 1998), plain PyTorch.

The paper's layers on a 32x32 grayscale input: C1 (6 maps, 5x5), S2 (2x2 subsampling with a
trainable coefficient and bias per map), C3 (16 maps, 5x5, wired to S2 by the paper's Table I),
S4, C5 (120 maps, 5x5 = fully connected at 32 px), F6 (84 units) and the output, every unit
squashed by the scaled tanh ``1.7159 tanh(2x/3)``. 60,000 trainable parameters up to F6, as the
paper says. Two departures, both named arguments: the output is a linear layer trained with
softmax cross-entropy, not the paper's fixed Euclidean RBF units; ``full_c3`` connects C3 to every
S2 map (what most re-implementations do).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Paper Table I: the S2 maps feeding each C3 map (6 of 3 neighbours, 6 of 4, 3 of 4 non-adjacent, 1 of all).
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """``A tanh(S x)`` with A = 1.7159, S = 2/3 (paper Appendix A): f(±1) = ±1."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsample(nn.Module):
    """S2/S4: the 2x2 sum of each map times a trainable coefficient plus a trainable bias (2 per map)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        x = F.avg_pool2d(x, 2) * 4  # (B, C, H/2, W/2): the sum of each 2x2 block
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class TableConv2d(nn.Conv2d):
    """A convolution whose output map ``j`` sees only the input maps ``table[j]`` (paper Table I)."""

    def __init__(self, in_channels: int, table: tuple[tuple[int, ...], ...], kernel_size: int) -> None:
        super().__init__(in_channels, len(table), kernel_size)
        mask = torch.zeros(len(table), in_channels, 1, 1)
        for j, inputs in enumerate(table):
            mask[j, list(inputs)] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def trainable_params(self) -> int:
        """Weights the table connects, plus biases (the paper's count: 1,516 for C3)."""
        return int(self.mask.sum()) * self.kernel_size[0] * self.kernel_size[1] + self.out_channels


class LeNet5(nn.Module):
    """LeNet-5.

    Args:
        num_classes: output units (10 digits in the paper).
        in_channels: 1 (the paper's grayscale input); 3 for colour images.
        full_c3: connect every C3 map to all six S2 maps instead of the paper's Table I.

    Input ``(B, in_channels, 32, 32)`` float, output ``(B, num_classes)`` logits.
    """

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, full_c3: bool = False) -> None:
        super().__init__()
        c3 = nn.Conv2d(6, 16, 5) if full_c3 else TableConv2d(6, C3_TABLE, 5)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), ScaledTanh(),  # C1: (B, 6, 28, 28)
            Subsample(6), ScaledTanh(),                  # S2: (B, 6, 14, 14)
            c3, ScaledTanh(),                            # C3: (B, 16, 10, 10)
            Subsample(16), ScaledTanh(),                 # S4: (B, 16, 5, 5)
            nn.Conv2d(16, 120, 5), ScaledTanh(),         # C5: (B, 120, 1, 1)
        )
        self.classifier = nn.Sequential(nn.Linear(120, 84), ScaledTanh(), nn.Linear(84, num_classes))  # F6, output
        for m in self.modules():
            # Paper Appendix C: weights uniform in +-2.4 / fan-in.
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()  # for C3, the fan-in of a fully wired map
                nn.init.uniform_(m.weight, -2.4 / fan_in, 2.4 / fan_in)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (B, 120, 1, 1) at 32 px
        return self.classifier(x.flatten(1))  # (B, 120) -> (B, num_classes)


def trainable_params(net: nn.Module) -> int:
    """Parameters that training can change: a ``TableConv2d`` counts only its connected weights."""
    total = 0
    for m in net.modules():
        own = list(m.parameters(recurse=False))
        total += m.trainable_params() if isinstance(m, TableConv2d) else sum(p.numel() for p in own)
    return total
