"""Vision Transformer (Dosovitskiy et al., ICLR 2021) built from timm's reference blocks."""

from __future__ import annotations

import math

from timm.layers import HybridEmbed, PatchEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import nn


def conv_stem(patch_size: int, width: int) -> nn.Sequential:
    """Xiao et al. 2021, "Early Convolutions Help Transformers See Better": the patchify layer
    replaced by log2(patch_size) 3x3 stride-2 conv-BN-ReLU layers whose channels double up to
    ``width``. Output ``(B, width, H / patch_size, W / patch_size)``; the 1x1 projection to the
    token width is added by timm's ``HybridEmbed``.
    """
    steps = int(math.log2(patch_size))
    if 2**steps != patch_size:
        raise ValueError(f"stem='conv' needs a power-of-two patch_size, got {patch_size}")
    channels = [max(8, width >> (steps - 1 - i)) for i in range(steps)]
    layers: list[nn.Module] = []
    c_in = 3
    for c_out in channels:
        layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out),
                   nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers)


def _conv_embed(*, img_size: int, patch_size: int, embed_dim: int, **kwargs) -> HybridEmbed:
    """timm ``embed_layer`` factory: the conv stem reduces by ``patch_size``; tokens are its 1x1 pixels."""
    kwargs.pop("dynamic_img_pad", None)
    return HybridEmbed(conv_stem(patch_size, embed_dim), img_size=img_size, patch_size=1,
                       embed_dim=embed_dim, **kwargs)


def timm_name(patch_size: int, width: int, depth: int, heads: int) -> str:
    """timm's name of the standard ViT with these sizes (its pretrained weights), e.g. ``vit_base_patch16_224``."""
    sizes = {(192, 12, 3): "tiny", (384, 12, 6): "small", (768, 12, 12): "base", (1024, 24, 16): "large"}
    if (width, depth, heads) not in sizes:
        raise ValueError(f"no timm pretrained ViT has width {width}, depth {depth}, heads {heads}")
    return f"vit_{sizes[width, depth, heads]}_patch{patch_size}_224"


def vit(
    num_classes: int,
    *,
    image_size: int = 224,
    patch_size: int = 16,
    width: int = 768,
    depth: int = 12,
    heads: int = 12,
    mlp_ratio: float = 4.0,
    dropout: float = 0.0,
    pool: str = "token",
    stem: str = "patch",
) -> nn.Module:
    """ViT with a class token (``pool="token"``, the paper) or mean pooling (``"avg"``).

    ``stem="patch"`` is the paper's linear patch embedding; ``"conv"`` the convolutional stem of
    Xiao et al. 2021 with the same token grid (a lever for small data, in the spirit of the
    paper's own hybrid). Input ``(B, 3, image_size, image_size)``; output ``(B, num_classes)``.
    ViT-B/16 is the default.
    """
    if image_size % patch_size:
        raise ValueError(f"image_size {image_size} is not divisible by patch_size {patch_size}")
    return VisionTransformer(
        img_size=image_size,
        patch_size=patch_size,
        num_classes=num_classes,
        embed_dim=width,
        depth=depth,
        num_heads=heads,
        mlp_ratio=mlp_ratio,
        drop_rate=dropout,
        global_pool=pool,
        class_token=pool == "token",
        embed_layer=_conv_embed if stem == "conv" else PatchEmbed,
    )
