"""Attribution maps through captum: one function per method, a plain dict from name to function.

Every function takes the pixel model, images ``(B, 3, H, W)`` in [0, 1], target classes ``(B,)``
and the conv layer for the layer methods, and returns a non-negative map ``(B, H, W)`` where a
larger value means "more evidence for the target" in the method's own sense. All but CAM also
take clips ``(B, 3, T, H, W)`` and return ``(B, T, H, W)`` (Grad-CAM then needs a 3D conv layer).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import Tensor, nn

Attribution = Callable[[nn.Module, Tensor, Tensor, nn.Module], Tensor]


def saliency(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Vanilla gradient (Simonyan 2014): |d logit / d pixel|, max over colour channels."""
    return Saliency(model).attribute(x, target=y, abs=True).amax(1)


def smoothgrad(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """SmoothGrad (Smilkov 2017): the vanilla gradient averaged over 16 noisy copies (sigma 0.15)."""
    nt = NoiseTunnel(Saliency(model))
    return nt.attribute(x, nt_type="smoothgrad", nt_samples=16, nt_samples_batch_size=16,
                        stdevs=0.15, target=y, abs=True).amax(1)


def integrated_gradients(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Integrated gradients (Sundararajan 2017) from a black image, 32 steps; |.| summed over colour."""
    a = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=y, n_steps=32,
                                             internal_batch_size=256)
    return a.abs().sum(1)


def occlusion(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Occlusion (Zeiler & Fergus 2014): the logit drop when an 8 px grey square covers each place
    (an eighth of the side of an image; on clips a quarter of the side, through every frame at once:
    which frames matter is the separate frame-occlusion figure, at an eighth of the cost)."""
    time = tuple(x.shape[2:-2])  # clips: (T,), the window spans the whole clip
    size = max(4, x.shape[-1] // (4 if time else 8))
    a = Occlusion(model).attribute(x, sliding_window_shapes=(3, *time, size, size),
                                   strides=(3, *time, size // 2, size // 2), baselines=0.5, target=y,
                                   perturbations_per_eval=1 if not time else 16)
    return a.sum(1).clamp(min=0)


def deconvnet(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Deconvnet (Zeiler & Fergus 2014): the backward pass with ReLU applied to the signal."""
    return Deconvolution(model).attribute(x, target=y).abs().amax(1)


def guided_backprop(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Guided backprop (Springenberg 2015): gradients masked by both forward and backward ReLU."""
    return GuidedBackprop(model).attribute(x, target=y).abs().amax(1)


def gradcam(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """Grad-CAM (Selvaraju 2017) on ``layer``, bilinearly (clips: trilinearly) upsampled to the input."""
    a = LayerGradCam(model, layer).attribute(x, target=y, relu_attributions=True)  # (B, 1, [t,] h, w)
    return LayerAttribution.interpolate(a, tuple(x.shape[2:]), "bilinear" if x.ndim == 4 else "trilinear")[:, 0]


def cam_head(model: nn.Module) -> nn.Linear | None:
    """The classifier when the net is CAM's shape: global pooling to 1x1, then one linear layer."""
    net = getattr(model, "net", model)
    pool, head = getattr(net, "avgpool", None), getattr(net, "classifier", None)
    if not isinstance(pool, nn.AdaptiveAvgPool2d) or pool.output_size not in (1, (1, 1)):
        return None
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)] if head is not None else []
    return linears[0] if len(linears) == 1 else None


def cam(model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module) -> Tensor:
    """CAM (Zhou 2016): the class's linear weights over the last conv maps; needs ``cam_head``."""
    head = cam_head(model)
    if head is None:
        raise ValueError("CAM needs global average pooling followed by a single linear layer")
    feats = model.net.features((x - model.mean) / model.std)  # (B, C, h, w)
    maps = torch.einsum("bchw,bc->bhw", feats, head.weight[y]).clamp(min=0)  # (B, h, w)
    return F.interpolate(maps[:, None], size=tuple(x.shape[-2:]), mode="bilinear")[:, 0]


METHODS: dict[str, Attribution] = {
    "saliency": saliency, "smoothgrad": smoothgrad, "integrated_gradients": integrated_gradients,
    "occlusion": occlusion, "deconvnet": deconvnet, "guided_backprop": guided_backprop,
    "gradcam": gradcam, "cam": cam,
}


def attribute(name: str, model: nn.Module, x: Tensor, y: Tensor, layer: nn.Module,
              batch: int = 50) -> Tensor:
    """Method ``name``'s maps ``(N, H, W)`` of ``x``, ``batch`` images at a time."""
    fn = METHODS[name]
    return torch.cat([fn(model, xb, yb, layer).detach() for xb, yb in zip(x.split(batch), y.split(batch))])
