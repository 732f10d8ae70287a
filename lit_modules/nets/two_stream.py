"""Two-stream networks (Simonyan & Zisserman 2014; Feichtenhofer et al. 2016); plain torch.

A spatial stream classifies one RGB frame (appearance), a temporal stream a stack of L optical
flow frames (motion: 2L input planes, x and y of each frame interleaved as in the paper). Both
are C3D's trunk with 2D kernels (``nets.video.conv_trunk``), so the ladder compares like with like.

Fusion: ``"average"`` of the two softmax scores (the paper's), ``"svm"``: a linear SVM on the
two streams' stacked scores (the paper's better figure; trained here by the multi-class hinge
loss on detached scores beside the streams), ``"conv"``: Feichtenhofer 2016's convolutional
fusion, the last feature maps of both streams stacked and mixed by a 1x1 conv before one head.

Input: ``(B, 5, L, H, W)`` clips (``datamodules.video``, ``modality="rgb+flow"``): channels 0-2
RGB, 3-4 the flow of each frame to the next. ``forward`` returns fused scores ``(B, classes)``
(log-probabilities for ``"average"``); ``stream_logits`` gives each stream's logits for training.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lit_modules.nets.video import conv_trunk

Fusion = Literal["average", "svm", "conv"]
Streams = Literal["both", "spatial", "temporal"]


def cross_modality_init(rgb_conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A first conv for ``in_channels`` flow planes from an RGB one (Wang et al. 2016, TSN):
    the RGB weights averaged over their 3 channels and copied to every flow plane."""
    conv = nn.Conv2d(in_channels, rgb_conv.out_channels, rgb_conv.kernel_size, rgb_conv.stride, rgb_conv.padding,
                     bias=rgb_conv.bias is not None)
    with torch.no_grad():
        conv.weight.copy_(rgb_conv.weight.mean(1, keepdim=True).expand(-1, in_channels, -1, -1))
        if rgb_conv.bias is not None:
            conv.bias.copy_(rgb_conv.bias)
    return conv


class Stream(nn.Module):
    """One stream: 2D trunk over ``in_channels`` planes -> features ``(B, D, h, w)`` -> logits."""

    def __init__(self, num_classes: int, in_channels: int, width: float, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        self.features, self.dim = conv_trunk(2, width, batch_norm, in_channels)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.dim, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean((2, 3)))  # (B, D, h, w) -> (B, classes)


class TwoStream(nn.Module):
    """Spatial (one RGB frame) and temporal (L stacked flow frames) streams, fused.

    Args:
        num_classes: output classes.
        flow_frames: L, flow frames stacked into the temporal stream (paper: 10).
        width: channel multiplier of both trunks (1.0 = C3D's 64 ... 512 channels).
        batch_norm: BN in both trunks.
        dropout: before each stream's classifier (paper: 0.9 spatial / 0.7 temporal on UCF101).
        fusion: "average", "svm" or "conv" (see the module docstring).
        streams: "both", or one stream alone ("temporal" = the flow network of the paper's Table 1).
        rgb_state: a spatial stream's ``state_dict`` to start both streams from (pretrained RGB
            weights); the temporal stream's first conv gets them by cross-modality initialisation.
    """

    def __init__(self, num_classes: int, flow_frames: int = 10, width: float = 1.0, batch_norm: bool = True,
                 dropout: float = 0.5, fusion: Fusion = "average", streams: Streams = "both",
                 rgb_state: dict[str, Tensor] | None = None) -> None:
        super().__init__()
        self.fusion, self.streams, self.flow_frames = fusion, streams, flow_frames
        if fusion == "conv" and streams != "both":
            raise ValueError("fusion='conv' fuses two streams; streams must be 'both'")
        self.spatial = Stream(num_classes, 3, width, batch_norm, dropout) if streams != "temporal" else None
        self.temporal = Stream(num_classes, 2 * flow_frames, width, batch_norm, dropout) if streams != "spatial" else None
        if rgb_state is not None:
            self.load_rgb(rgb_state)
        if fusion == "svm":
            self.svm = nn.Linear(2 * num_classes, num_classes)
        if fusion == "conv":  # Feichtenhofer 2016: stack both last feature maps, mix with a 1x1 conv
            d = self.spatial.dim
            self.fuse = nn.Sequential(nn.Conv2d(2 * d, d, 1), nn.ReLU(inplace=True))
            self.fused_head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d, num_classes))

    def load_rgb(self, state: dict[str, Tensor]) -> None:
        """Both streams from RGB weights; the temporal stream's first conv by cross-modality init."""
        for stream in (self.spatial, self.temporal):
            if stream is None:
                continue
            first = stream.features[0]
            if first.in_channels == 3:
                stream.load_state_dict(state)
                continue
            rgb = nn.Conv2d(3, first.out_channels, first.kernel_size, first.stride, first.padding,
                            bias=first.bias is not None)
            rgb.load_state_dict({k.removeprefix("features.0."): v for k, v in state.items()
                                 if k.startswith("features.0.")})
            stream.features[0] = cross_modality_init(rgb, first.in_channels)
            stream.load_state_dict({k: v for k, v in state.items() if not k.startswith("features.0.")}, strict=False)

    def split(self, clips: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, 5, L, H, W)`` -> the centre RGB frame ``(B, 3, H, W)`` and the flow stack ``(B, 2L, H, W)``."""
        if clips.shape[1] != 5 or clips.shape[2] != self.flow_frames:
            raise ValueError(f"two-stream input must be (B, 5, L={self.flow_frames}, H, W) rgb+flow clips "
                             f"(data.init_args.modality: rgb+flow, num_frames: {self.flow_frames}); "
                             f"got {tuple(clips.shape)}")
        rgb = clips[:, :3, clips.shape[2] // 2]  # (B, 3, H, W)
        flow = clips[:, 3:].transpose(1, 2).flatten(1, 2)  # (B, L, 2, H, W) -> (B, 2L, H, W): x1 y1 x2 y2 ...
        return rgb, flow

    def stream_logits(self, clips: Tensor) -> dict[str, Tensor]:
        """Logits ``(B, classes)`` of each stream built (and of the conv fusion), by name."""
        rgb, flow = self.split(clips)
        if self.fusion == "conv":
            fs, ft = self.spatial.features(rgb), self.temporal.features(flow)  # (B, D, h, w) each
            fused = self.fuse(torch.cat([fs, ft], 1)).mean((2, 3))  # (B, D)
            return {"spatial": self.spatial.head(fs.mean((2, 3))), "temporal": self.temporal.head(ft.mean((2, 3))),
                    "fused": self.fused_head(fused)}
        out = {}
        if self.spatial is not None:
            out["spatial"] = self.spatial(rgb)
        if self.temporal is not None:
            out["temporal"] = self.temporal(flow)
        return out

    def fuse_scores(self, logits: dict[str, Tensor]) -> Tensor:
        """The fused prediction ``(B, classes)`` from ``stream_logits``."""
        if "fused" in logits:
            return logits["fused"]
        if len(logits) == 1:
            return next(iter(logits.values()))
        probs = [logits["spatial"].softmax(-1), logits["temporal"].softmax(-1)]
        if self.fusion == "svm":
            return self.svm(torch.cat(probs, -1).detach())  # (B, 2C) -> SVM scores (B, C)
        return (sum(probs) / 2).log()  # averaged softmax, as log-probabilities

    def loss(self, logits: dict[str, Tensor], labels: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Each stream's cross-entropy (they train independently, as in the paper), plus the fused
        head's (conv) or the SVM's hinge loss on the detached scores."""
        loss = sum(F.cross_entropy(v, labels, label_smoothing=label_smoothing) for v in logits.values())
        if self.fusion == "svm" and len(logits) == 2:
            loss = loss + F.multi_margin_loss(self.fuse_scores(logits), labels)
        return loss

    def forward(self, clips: Tensor) -> Tensor:
        return self.fuse_scores(self.stream_logits(clips))
