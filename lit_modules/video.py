"""Video classification — C3D (Tran 2015), R3D-18 / R(2+1)D-18 (Tran 2018), I3D (Carreira 2017),
Karpathy 2014's fusion ladder, LRCN (Donahue 2015) and non-local blocks (Wang 2018).

The idea the ladder shows: a model that classifies frames one by one (``single_frame``) cannot
tell motions apart that differ only in direction; merging frames in time order can, early (the
first conv sees every frame: ``early_fusion``), slowly (``slow_fusion``), late (``late_fusion``),
through a recurrent net (``lrcn``), and convolving over time from the first layer (``c3d``,
``r3d_18``, ``r2plus1d_18``, ``i3d``) learns motion directly; ``non_local`` adds blocks that
relate every place and time. One module, the net chosen by ``arch`` (two-stream: ``two_stream.py``).

Batch contract (``datamodules.video``): clips float ``(B, 3, T, H, W)``, labels int64 ``(B,)``;
for video-level evaluation ``(B, K, 3, T, H, W)``: K clips/crops per video whose softmax is
averaged here.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.media import clips_to_display, gif_bytes
from lit_modules.nets.fusion import LRCN, EarlyFusion, SlowFusion
from lit_modules.nets.i3d import i3d_googlenet
from lit_modules.nets.video import C3D, LateFusion, SingleFrame, insert_non_local, video_resnet18

Arch = Literal["c3d", "c3d_nonlocal", "r3d_18", "r2plus1d_18", "i3d", "single_frame", "early_fusion",
               "late_fusion", "slow_fusion", "lrcn"]
NAMES = {"c3d": "C3D", "c3d_nonlocal": "C3D + non-local", "r3d_18": "R3D-18", "r2plus1d_18": "R(2+1)D-18",
         "i3d": "I3D", "single_frame": "Single frame", "early_fusion": "Early fusion", "late_fusion": "Late fusion",
         "slow_fusion": "Slow fusion", "lrcn": "LRCN"}


class VideoModule(ClassificationModule):
    """A video classifier; optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s.

    Args:
        num_classes: classes in the data.
        arch: "c3d", "c3d_nonlocal" (C3D with non-local blocks, at ``non_local`` or after conv3b and
            conv4b), "r3d_18", "r2plus1d_18", "i3d" (inflated GoogLeNet), "single_frame",
            "early_fusion", "late_fusion", "slow_fusion" or "lrcn".
        num_frames: T of the clips (late fusion's concatenation needs it).
        width: C3D / 2D-baseline channel multiplier (1.0 = C3D's 64 ... 512 channels).
        resnet_width: first-stage channels of R3D / R(2+1)D (64 = torchvision's builders).
        hidden: C3D fc6/fc7, the fusion nets' FC width and LRCN's LSTM width (C3D paper: 4096).
        dropout: C3D dropout (paper: 0.5).
        batch_norm: BN after every conv of C3D and the 2D trunks (C3D had none).
        fusion: late fusion by "concat" (time-ordered) or "mean" (order-blind) of frame features.
        pool_output: C3D's pooled (T, H, W) before fc6; (1, 4, 4) is the paper's for 16x112x112.
        non_local: where non-local blocks go: C3D conv indices 0-7 (after that conv's ReLU / pool)
            or R3D / R(2+1)D stage indices 0-3 (after the stage); empty: none (c3d_nonlocal: [3, 5]).
        lrcn_readout: LRCN's prediction from the "last" step's state or the "mean" of every step's
            logits (the paper's; at chance on the ShapesWorld ladder).
        channels_last: NHWC weights for the 2D baselines' convs (clips stay NCTHW; untuned).
    """

    @staticmethod
    def method_name(hparams: dict) -> str:
        name = NAMES.get(hparams.get("arch", "c3d"), "Video")
        return name + (" + non-local" if hparams.get("non_local") and "non-local" not in name else "")

    def __init__(
        self,
        num_classes: int = 9,
        arch: Arch = "c3d",
        num_frames: int = 8,
        width: float = 1.0,
        resnet_width: int = 64,
        hidden: int = 4096,
        dropout: float = 0.5,
        batch_norm: bool = False,
        fusion: Literal["concat", "mean"] = "concat",
        pool_output: tuple[int, int, int] = (1, 4, 4),
        non_local: list[int] | None = None,
        lrcn_readout: Literal["last", "mean"] = "last",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        if arch in ("c3d", "c3d_nonlocal"):
            self.net = C3D(num_classes, width, hidden, dropout, batch_norm, pool_output)
        elif arch in ("r3d_18", "r2plus1d_18"):
            self.net = video_resnet18(num_classes, factorised=arch == "r2plus1d_18", width=resnet_width)
        elif arch == "i3d":
            self.net = i3d_googlenet(num_classes, dropout)
        elif arch == "single_frame":
            self.net = SingleFrame(num_classes, width, batch_norm)
        elif arch == "early_fusion":
            self.net = EarlyFusion(num_classes, num_frames, width, hidden, batch_norm)
        elif arch == "slow_fusion":
            self.net = SlowFusion(num_classes, num_frames, width, hidden, batch_norm)
        elif arch == "lrcn":
            self.net = LRCN(num_classes, width, hidden, batch_norm, lrcn_readout)
        else:
            self.net = LateFusion(num_classes, num_frames, fusion, width, hidden, batch_norm)
        where = non_local if non_local is not None else ([3, 5] if arch == "c3d_nonlocal" else [])
        if where:
            try:
                insert_non_local(self.net, where)
            except ValueError as e:
                raise ConfigError(f"model.init_args.non_local={where} with arch={arch!r}: {e}") from None

    def _logits(self, clips: Tensor) -> Tensor:
        if clips.ndim == 6:  # (B, K, 3, T, H, W): K clips/crops per video, average the softmax
            b, k = clips.shape[:2]
            probs = self(clips.flatten(0, 1)).softmax(-1)  # (B*K, C)
            return probs.view(b, k, -1).mean(1).log()  # (B, C): log-probs keep argmax/top-k
        return self(clips)

    def wandb_media(self, batch: tuple[Tensor, Tensor], outputs: object, n: int = 8) -> dict:
        """The first ``n`` validation clips as W&B videos (caption: true / predicted motion)
        and, for nets whose first conv spans time, its filters as 3-frame clips."""
        import wandb  # only runs that log to W&B call this

        clips, labels = batch[0][:n], batch[1][:n]
        with torch.no_grad():
            probs = self._logits(clips).softmax(-1)  # (n, C)
        conf, pred = probs.max(-1)
        names = getattr(getattr(self.trainer, "datamodule", None), "class_names", None) or []
        name = lambda i: names[i] if i < len(names) else str(i)
        shown = clips[:, 0] if clips.ndim == 6 else clips  # several clips per video: show the first
        media = {"val/clips": [
            wandb.Video(gif_bytes(v, fps=4), format="gif", caption=f"true {name(t)} / pred {name(p)} ({c:.2f})")
            for v, t, p, c in zip(clips_to_display(shown), labels.tolist(), pred.tolist(), conf.tolist(), strict=True)
        ]}
        conv1 = next((m for m in self.net.modules() if isinstance(m, torch.nn.Conv3d)), None)
        if conv1 is not None and conv1.kernel_size[0] > 1 and conv1.in_channels == 3:
            w = conv1.weight.detach()[:32]  # (F, 3, kt, kh, kw)
            filt = clips_to_display(w, scale=max(1, 48 // w.shape[-1]))  # (F, kt, 3, h, w)
            grid = torch.from_numpy(filt).permute(1, 2, 0, 3, 4)  # (kt, 3, F, h, w): filters stacked vertically
            media["val/conv1_filters"] = wandb.Video(gif_bytes(grid.flatten(2, 3).numpy(), fps=2), format="gif",
                                                     caption="first-layer 3D filters over time")
        return media
