"""ViT — "An Image is Worth 16x16 Words" (Dosovitskiy 2021).

The idea: cut the image into patches, embed them linearly, add position embeddings and a
class token, and classify with a plain Transformer encoder; trained with AdamW, warm-up and
cosine decay.
"""

from __future__ import annotations

from typing import Any, Literal

from lit_modules.classification import ClassificationModule
from lit_modules.nets.vit import vit


class ViTModule(ClassificationModule):
    """ViT classifier; defaults are ViT-B/16; the torchvision recipe (AdamW 3e-3, wd 0.3) is in ``configs/vit/imagenet.yaml``.

    The optimisation arguments (lr ... channels_last) are ``ClassificationModule``'s, passed on by keyword.

    Args:
        num_classes: classes in the data.
        image_size: input side (must be divisible by ``patch_size``).
        patch_size: patch side.
        width: embedding dimension.
        depth: Transformer blocks.
        heads: attention heads.
        mlp_ratio: MLP hidden size / width.
        dropout: dropout after embeddings and in the MLPs.
        pool: "token" (class token, paper) or "avg" (mean of patch tokens).
        stem: "patch" (the paper's linear patch embedding) or "conv" (3x3 stride-2 convolutions
            down to the same token grid, Xiao et al. 2021).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        image_size: int = 224,
        patch_size: int = 16,
        width: int = 768,
        depth: int = 12,
        heads: int = 12,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        pool: Literal["token", "avg"] = "token",
        stem: Literal["patch", "conv"] = "patch",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        self.net = vit(num_classes, image_size=image_size, patch_size=patch_size, width=width,
                       depth=depth, heads=heads, mlp_ratio=mlp_ratio, dropout=dropout, pool=pool, stem=stem)
