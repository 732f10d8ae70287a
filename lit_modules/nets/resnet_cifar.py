"""The CIFAR ResNets of He et al. 2016 (Sec. 4.2): ResNet-20/32/44/56/110 and their plain twins, plain PyTorch.

depth = 6n + 2: a 3x3 stem, three stages of n basic blocks (two 3x3 convs each) on 16, 32, 64
channels at strides 1, 2, 2, global average pooling and one FC layer. The shortcuts are the
paper's option A (Sec. 3.3): identity, and where a stage halves the map and doubles the
channels, stride-2 subsampling plus zero-padded channels, so the shortcuts add no parameters.
``residual=False`` drops the shortcuts and leaves the plain net of Figure 6 with the very same
layers and parameters. torchvision has only the ImageNet ResNets (``torchvision.models.resnet``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from contracts.errors import ConfigError

CIFAR_DEPTHS = (20, 32, 44, 56, 110)  # the depths of the paper's Table 6 (any 6n + 2 builds)


def blocks_per_stage(depth: int, key: str = "model.init_args.depth") -> int:
    """n of depth = 6n + 2; a ``ConfigError`` naming ``key`` for any other depth."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ConfigError(f"{key}: {depth!r} is not a CIFAR ResNet depth 6n+2 with n >= 1 "
                          f"(the paper's are {', '.join(map(str, CIFAR_DEPTHS))})")
    return (depth - 2) // 6


class ShortcutA(nn.Module):
    """Option A: ``x[:, :, ::s, ::s]`` with ``out - in`` zero channels added on both sides; no parameters."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride, self.pad = stride, out_channels - in_channels

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H/s, W/s)
        half = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad - half))  # (B, C_out, H/s, W/s)


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN (+ shortcut) -ReLU, the block of the paper's Figure 2 (left)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, *, residual: bool, batch_norm: bool) -> None:
        super().__init__()
        norm = nn.BatchNorm2d if batch_norm else lambda c: nn.Identity()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)
        self.bn1 = norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm)
        self.bn2 = norm(out_channels)
        self.residual = residual
        same = stride == 1 and in_channels == out_channels
        self.shortcut = nn.Identity() if same or not residual else ShortcutA(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, C_out, H/s, W/s)
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32 px images, or its plain counterpart.

    Args:
        depth: 6n + 2 weighted layers (20, 32, 44, 56, 110 in the paper).
        num_classes: output logits.
        residual: identity/option-A shortcuts (the ResNet); False: the plain net of Figure 6.
        batch_norm: BN after every conv (the paper); False: convs with biases (the BN ablation).
        width: channels of the first stage (16 in the paper; the stages use width, 2x, 4x).
        stem_stride: stride of the 3x3 stem conv (1 in the paper); 2 gives 64 px input the paper's
            32/16/8 maps at the cost of 32 px input.

    Input ``(B, 3, H, W)`` (H, W = 32 in the paper, any size works), output ``(B, num_classes)``.
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, *, residual: bool = True,
                 batch_norm: bool = True, width: int = 16, stem_stride: int = 1) -> None:
        super().__init__()
        n = blocks_per_stage(depth)
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stem_stride, 1, bias=not batch_norm),
                                  nn.BatchNorm2d(width) if batch_norm else nn.Identity(), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        channels = width
        for stage, out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(channels, out, stride, residual=residual, batch_norm=batch_norm))
                channels = out
        self.stages = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)
        for m in self.modules():  # He init (the paper's ref. [13]), BN at weight 1, bias 0
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stages(self.stem(x))  # (B, 4*width, H/(4*stem_stride), W/(4*stem_stride))
        return self.fc(x.mean((2, 3)))  # global average pool (B, 4*width) -> (B, num_classes)
