"""Two-stream networks (Simonyan & Zisserman 2014): appearance from one frame, motion from optical flow.

The idea: a 2D CNN on stacked optical flow sees motion directly, where the RGB networks must
learn it from pixels; a spatial stream on one frame adds appearance, and the two are fused
late (softmax average or an SVM on the scores) or, after Feichtenhofer 2016, by convolution.
The streams train independently (the sum of their losses shares no parameters); the fused
score is what validation measures. Flow is computed once, before training
(``datamodules.flow``; its time is logged apart, ``data/flow_seconds``).

Batch contract: ``datamodules.video`` with ``modality="rgb+flow"``: clips ``(B, 5, L, H, W)``
(or ``(B, K, 5, L, H, W)`` for K clips/crops per video, their softmax averaged), labels ``(B,)``.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.media import clips_to_display, gif_bytes
from lit_modules.nets.two_stream import Fusion, Streams, TwoStream


class TwoStreamModule(ClassificationModule):
    """A two-stream video classifier; optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s.

    Args:
        num_classes: classes in the data.
        flow_frames: L, flow frames stacked into the temporal stream (= ``data.init_args.num_frames``).
        width: channel multiplier of both 2D trunks (1.0 = C3D's 64 ... 512 channels).
        batch_norm: BN in both trunks.
        dropout: before each stream's classifier.
        fusion: "average" (softmax mean), "svm" (linear SVM on the scores) or "conv" (Feichtenhofer 2016).
        streams: "both", "spatial" or "temporal" (one stream alone).
        rgb_weights: a file holding a spatial stream's ``state_dict`` (pretrained RGB weights): both
            streams start from it, the temporal one's first conv by cross-modality initialisation.
    """

    @staticmethod
    def method_name(hparams: dict) -> str:
        streams = hparams.get("streams", "both")
        return "Two-stream" if streams == "both" else f"Two-stream ({streams} stream)"

    def __init__(self, num_classes: int = 9, flow_frames: int = 10, width: float = 1.0, batch_norm: bool = True,
                 dropout: float = 0.5, fusion: Fusion = "average", streams: Streams = "both",
                 rgb_weights: str | None = None, **kwargs: Any) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        state = None
        if rgb_weights is not None:
            try:
                state = torch.load(rgb_weights, map_location="cpu", weights_only=True)
            except (OSError, RuntimeError) as e:
                raise ConfigError(f"model.init_args.rgb_weights={rgb_weights!r}: cannot be read ({e})") from None
        self.net = TwoStream(num_classes, flow_frames, width, batch_norm, dropout, fusion, streams, state)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        hp = getattr(dm, "hparams", {})
        if hp and (hp.get("modality") != "rgb+flow" or hp.get("num_frames") != self.hparams.flow_frames):
            raise ConfigError(f"two-stream needs data.init_args.modality: rgb+flow (got {hp.get('modality')!r}) and "
                              f"data.init_args.num_frames = model.init_args.flow_frames = {self.hparams.flow_frames} "
                              f"(got {hp.get('num_frames')})")

    def on_train_start(self) -> None:
        seconds = getattr(getattr(self.trainer, "datamodule", None), "flow_seconds", None)
        if seconds is not None:  # flow extraction, apart from training time (0.0: read from the cache)
            rank_zero_info(f"optical flow extraction: {seconds:.1f} s (before training; 0.0 = read from the cache)")
            self.log("data/flow_seconds", float(seconds), rank_zero_only=True)

    def training_loss(self, clips: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.net.stream_logits(clips)
        return self.net.loss(logits, labels, self.hparams.label_smoothing), self.net.fuse_scores(logits)

    def wandb_media(self, batch: tuple[Tensor, Tensor], outputs: object, n: int = 8) -> dict:
        """The first ``n`` validation clips' RGB frames as W&B videos (caption: true / predicted motion)."""
        import wandb  # only runs that log to W&B call this

        clips, labels = batch[0][:n], batch[1][:n]
        with torch.no_grad():
            conf, pred = self._logits(clips).softmax(-1).max(-1)  # (n,)
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None) or []
        name = lambda i: names[i] if i < len(names) else str(i)
        rgb = (clips[:, 0] if clips.ndim == 6 else clips)[:, :3]  # (n, 3, L, H, W): the RGB channels
        return {"val/clips": [
            wandb.Video(gif_bytes(v, fps=4), format="gif", caption=f"true {name(t)} / pred {name(p)} ({c:.2f})")
            for v, t, p, c in zip(clips_to_display(rgb), labels.tolist(), pred.tolist(), conf.tolist(), strict=True)
        ]}

    def _logits(self, clips: Tensor) -> Tensor:
        if clips.ndim == 6:  # (B, K, 5, L, H, W): K clips/crops per video, average the softmax
            b, k = clips.shape[:2]
            probs = self(clips.flatten(0, 1)).softmax(-1)  # (B*K, C)
            return probs.view(b, k, -1).mean(1).log()  # (B, C)
        return self(clips)
