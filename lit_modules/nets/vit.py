"""Vision Transformer (Dosovitskiy et al., ICLR 2021) built from timm's reference blocks."""

from __future__ import annotations

from timm.models.vision_transformer import VisionTransformer
from torch import nn


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
) -> nn.Module:
    """ViT with a class token (``pool="token"``, the paper) or mean pooling (``"avg"``).

    Input ``(B, 3, image_size, image_size)``; output ``(B, num_classes)``. ViT-B/16 is the default.
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
    )
