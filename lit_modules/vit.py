"""ViT — "An Image is Worth 16x16 Words" (Dosovitskiy 2021).

The idea: cut the image into patches, embed them linearly, add position embeddings and a
class token, and classify with a plain Transformer encoder; trained with AdamW, warm-up and
cosine decay.
"""

from __future__ import annotations

from typing import Any, Literal

from contracts.errors import ConfigError
from lit_modules.classification import ClassificationModule
from lit_modules.nets.pretrained import timm_pretrained
from lit_modules.nets.vit import timm_name, vit


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
        pretrained: start from timm's pretrained weights of the ViT with these sizes
            (``vit_base_patch16_224`` for ViT-B/16; fetched into the Hugging Face cache when online),
            with a new classifier for ``num_classes`` and position embeddings resampled to ``image_size``.
        pretrained_file: a local file of those weights instead of the cache (timm's ``pretrained_cfg_overlay``).
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
        pretrained: bool = False,
        pretrained_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(num_classes=num_classes, **kwargs)  # the base saves every argument as a hyper-parameter
        if not pretrained:
            self.net = vit(num_classes, image_size=image_size, patch_size=patch_size, width=width, depth=depth,
                           heads=heads, mlp_ratio=mlp_ratio, dropout=dropout, pool=pool, stem=stem)
            return
        if stem != "patch" or pool != "token" or mlp_ratio != 4.0:
            raise ConfigError("model.init_args.pretrained: timm's pretrained ViTs have stem 'patch', pool 'token', "
                              "mlp_ratio 4")
        try:
            name = timm_name(patch_size, width, depth, heads)
        except ValueError as e:
            raise ConfigError(f"model.init_args.pretrained: {e}") from None
        self.net = timm_pretrained(name, pretrained_file, "model.init_args.pretrained", num_classes=num_classes,
                                   img_size=image_size, drop_rate=dropout)
