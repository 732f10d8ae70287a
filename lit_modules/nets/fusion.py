"""Karpathy 2014's fusion ladder beyond single frame / late fusion, and LRCN; plain torch.

Clips ``(B, 3, T, H, W)`` -> logits ``(B, classes)``. All share C3D's channel widths
(``nets.video.C3D_CHANNELS``), so the ladder differs only in where time is merged:

- early fusion: the first conv sees all T frames at once (a 2D trunk over 3T input planes);
- slow fusion: 3D convs whose temporal extent merges time gradually over the first three
  layers (Karpathy: 4 frames, stride 2, then 2 and 2), the rest 2D;
- LRCN (Donahue 2015): a 2D CNN per frame, an LSTM over the frame features, its per-step
  predictions averaged over time.
"""

from __future__ import annotations

from torch import Tensor, nn

from lit_modules.nets.video import C3D_CHANNELS, C3D_POOL_AFTER, FrameEncoder, conv_trunk

SLOW_TIME = ((4, 2, 1), (2, 2, 0), (2, 2, 0))  # (kernel, stride, padding) in time of conv1-3 (Karpathy 2014)


def _head(d_in: int, hidden: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, num_classes))


class EarlyFusion(nn.Module):
    """Early fusion: frames stacked on channels, ``(B, 3T, H, W)``, into a 2D trunk (needs T fixed)."""

    def __init__(self, num_classes: int, num_frames: int, width: float = 1.0, hidden: int = 512,
                 batch_norm: bool = True) -> None:
        super().__init__()
        self.features, d = conv_trunk(2, width, batch_norm, in_channels=3 * num_frames)
        self.head = _head(d, hidden, num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        x = clips.flatten(1, 2)  # (B, 3, T, H, W) -> (B, 3T, H, W): time merged at the first layer
        return self.head(self.features(x).mean((2, 3)))


def slow_fusion_trunk(num_frames: int, width: float, batch_norm: bool) -> tuple[nn.Sequential, int]:
    """C3D's 8 convs (3x3 spatial), the first three also spanning time (``SLOW_TIME``) until one
    time step is left; spatial pooling only (1x2x2) after conv1, 2, 3b, 4b, 5b."""
    layers: list[nn.Module] = []
    c_in, t = 3, num_frames
    for i, c in enumerate(C3D_CHANNELS):
        kt, st, pt = SLOW_TIME[i] if i < len(SLOW_TIME) else (1, 1, 0)
        kt = min(kt, t + 2 * pt)  # short clips: never a kernel longer than what is left
        c_out = max(8, round(c * width))
        layers += [nn.Conv3d(c_in, c_out, (kt, 3, 3), (st, 1, 1), (pt, 1, 1), bias=not batch_norm)]
        layers += [nn.BatchNorm3d(c_out)] if batch_norm else []
        layers += [nn.ReLU(inplace=True)]
        if i in C3D_POOL_AFTER:
            layers += [nn.MaxPool3d((1, 2, 2), (1, 2, 2), ceil_mode=True)]
        t, c_in = (t + 2 * pt - kt) // st + 1, c_out
    return nn.Sequential(*layers), c_in


class SlowFusion(nn.Module):
    """Slow fusion (Karpathy 2014): time merged progressively over the first conv layers."""

    def __init__(self, num_classes: int, num_frames: int, width: float = 1.0, hidden: int = 512,
                 batch_norm: bool = True) -> None:
        super().__init__()
        self.features, d = slow_fusion_trunk(num_frames, width, batch_norm)
        self.head = _head(d, hidden, num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.features(clips).mean((2, 3, 4)))  # (B, D, T', H', W') -> (B, classes)


class LRCN(nn.Module):
    """LRCN (Donahue et al. 2015): per-frame 2D CNN features -> LSTM -> logits.

    ``readout``: "last" classifies from the last step's state; "mean" averages every step's logits
    over T (the paper's). On the ShapesWorld ladder "mean" stays at chance (its first steps have
    seen one or two frames and cannot know the motion), "last" learns (docs/ANALYSES.md).
    """

    def __init__(self, num_classes: int, width: float = 1.0, hidden: int = 256, batch_norm: bool = True,
                 readout: str = "last") -> None:
        super().__init__()
        if readout not in ("last", "mean"):
            raise ValueError(f"readout must be 'last' or 'mean', got {readout!r}")
        self.readout = readout
        self.encoder = FrameEncoder(width, batch_norm)
        self.lstm = nn.LSTM(self.encoder.dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        states, _ = self.lstm(self.encoder(clips))  # (B, T, D) -> (B, T, hidden)
        if self.readout == "last":
            return self.fc(states[:, -1])  # (B, hidden) -> (B, classes)
        return self.fc(states).mean(1)  # (B, T, classes) -> (B, classes): the paper's average over time
