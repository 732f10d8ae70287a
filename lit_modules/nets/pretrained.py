"""ImageNet weights for torchvision architectures: a weight-enum name through torch.hub's cache, or a local file.

``weights`` is either the name of a member of the architecture's torchvision weight enum
(``IMAGENET1K_V1``, ``DEFAULT``; ``torchvision.models.get_model_weights(arch)``), fetched by
``torch.hub.load_state_dict_from_url`` into ``<torch.hub.get_dir()>/checkpoints/`` (``TORCH_HOME``
moves it), or a path to a state-dict file. On a machine without network and without the file in
the cache, ``resolve`` raises one ``ConfigError`` naming the cache path and the URL, so that
the user can copy the file there; nothing else in the project downloads.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision.models import get_model_weights

from contracts.errors import ConfigError


def is_enum_name(weights: str) -> bool:
    """``IMAGENET1K_V1`` / ``DEFAULT`` (an enum member name) rather than a file path."""
    return weights.replace("_", "").isalnum() and weights.upper() == weights and not Path(weights).suffix


def cache_path(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` keeps ``url``'s file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def weight_url(arch: str, name: str, key: str) -> str:
    """The URL of torchvision's ``arch`` weights ``name``; ``key`` names the config key in errors."""
    enum = get_model_weights(arch)
    try:
        return enum[name].url
    except KeyError:
        raise ConfigError(f"{key}: {name!r} is not a torchvision weight of {arch} "
                          f"(choose one of {', '.join(enum.__members__)}, or give a local file)") from None


def resolve(arch: str, weights: str, key: str) -> Path:
    """The local file holding ``arch``'s ``weights``, downloading it into torch.hub's cache if missing.

    Call it before building a large net, so that a missing file stops the run at once.
    """
    if not is_enum_name(weights):
        if not Path(weights).is_file():
            raise ConfigError(f"{key}: weights file {weights!r} does not exist")
        return Path(weights)
    url = weight_url(arch, weights, key)
    path = cache_path(url)
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(path), progress=False)  # writes a temp file, then moves it
    except OSError as e:  # URLError, socket errors: offline
        raise ConfigError(f"{key}: {arch} {weights} is not in the torch hub cache {path} and cannot be downloaded "
                          f"({type(e).__name__}); on an online machine fetch {url} and copy it to {path}") from None
    return path


def load_state(path: Path | str) -> dict[str, torch.Tensor]:
    """A state dict from ``path``; a Lightning checkpoint's ``state_dict`` (``net.`` prefix dropped) too."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state)
    prefix = "net." if any(k.startswith("net.") for k in state) else ""
    return {k.removeprefix(prefix): v for k, v in state.items()}


def load_pretrained(module: torch.nn.Module, arch: str, weights: str | None, key: str, head: str | None = None) -> None:
    """Load ``weights`` (enum name or file, see ``resolve``) of torchvision's ``arch`` into ``module``.

    Args:
        head: key prefix of the classifier's output layer (``"classifier.6."``): where its shape differs
            from ``module``'s (fine-tuning to other classes) it keeps its fresh initialisation.
    """
    if weights is None:
        return
    path = resolve(arch, weights, key)
    state = load_state(path)
    if head is not None:
        own = module.state_dict()
        state = {k: v for k, v in state.items()
                 if not (k.startswith(head) and k in own and own[k].shape != v.shape)}
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not (head and k.startswith(head))]:
            raise RuntimeError(f"missing keys {missing[:3]}, unexpected keys {unexpected[:3]}")
    except RuntimeError as e:
        raise ConfigError(f"{key}: {path} does not fit {arch}: {str(e).splitlines()[0]}") from None


def timm_pretrained(name: str, file: str | None, key: str, **kwargs) -> torch.nn.Module:
    """``timm.create_model(name, pretrained=True, **kwargs)``: weights from the Hugging Face cache, or ``file``.

    timm adapts what differs (a new classifier for other ``num_classes``, position embeddings
    resampled to another ``img_size``). Offline without the file in the cache: one ``ConfigError``
    naming the cache folder and the URL.
    """
    import timm
    from huggingface_hub.constants import HF_HUB_CACHE

    if file is not None and not Path(file).is_file():
        raise ConfigError(f"{key}: weights file {file!r} does not exist")
    overlay = {"file": file} if file else None
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, **kwargs)
    except OSError as e:  # huggingface_hub's LocalEntryNotFoundError, connection errors
        hub_id = timm.models.get_pretrained_cfg(name).hf_hub_id or name
        cache = Path(HF_HUB_CACHE) / f"models--{hub_id.replace('/', '--')}"
        raise ConfigError(f"{key}: timm {name} weights are not in the Hugging Face cache {cache} and cannot be "
                          f"downloaded ({type(e).__name__}); on an online machine fetch https://huggingface.co/{hub_id} "
                          f"(or give a local file)") from None
