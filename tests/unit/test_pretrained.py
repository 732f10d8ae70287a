"""Torchvision weight names through torch.hub's cache (a state dict the test puts there), local files, offline errors."""

from __future__ import annotations

import urllib.error

import pytest
import torch
from torchvision.models import get_model_weights, mobilenet_v3_small

from contracts.errors import ConfigError
from lit_modules.nets import pretrained


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(pretrained.torch.hub, "download_url_to_file", _offline)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _offline(url, dst, *args, **kwargs):
    raise urllib.error.URLError("Name or service not known")


def test_enum_names_and_paths_told_apart():
    assert pretrained.is_enum_name("IMAGENET1K_V1") and pretrained.is_enum_name("DEFAULT")
    assert not pretrained.is_enum_name("/data/vgg16-397923af.pth") and not pretrained.is_enum_name("w.pt")


def test_weight_name_loads_from_the_hub_cache(hub):
    url = get_model_weights("mobilenet_v3_small")["IMAGENET1K_V1"].url
    hub.mkdir(parents=True)
    state = mobilenet_v3_small().state_dict()
    torch.save(state, hub / url.rsplit("/", 1)[1])
    net = mobilenet_v3_small()
    pretrained.load_pretrained(net, "mobilenet_v3_small", "IMAGENET1K_V1", "model.init_args.w")
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())


def test_local_file_and_lightning_checkpoint(tmp_path):
    state = mobilenet_v3_small().state_dict()
    torch.save({"state_dict": {f"net.{k}": v for k, v in state.items()}}, tmp_path / "last.ckpt")
    net = mobilenet_v3_small()
    pretrained.load_pretrained(net, "mobilenet_v3_small", str(tmp_path / "last.ckpt"), "k")
    assert torch.equal(net.state_dict()["classifier.3.weight"], state["classifier.3.weight"])


def test_offline_without_cache_names_path_and_url(hub):
    url = get_model_weights("mobilenet_v3_small")["IMAGENET1K_V1"].url
    with pytest.raises(ConfigError) as e:
        pretrained.resolve("mobilenet_v3_small", "IMAGENET1K_V1", "model.init_args.w")
    msg = str(e.value)
    assert "model.init_args.w" in msg and url in msg and str(hub / url.rsplit("/", 1)[1]) in msg
    assert "\n" not in msg


def test_unknown_weight_name_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="IMAGENET1K_V1"):
        pretrained.resolve("mobilenet_v3_small", "IMAGENET9K", "k")
    with pytest.raises(ConfigError, match="does not exist"):
        pretrained.resolve("mobilenet_v3_small", str(tmp_path / "no.pth"), "k")


def test_wrong_architecture_file_is_a_config_error(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ConfigError, match="does not fit mobilenet_v3_small"):
        pretrained.load_pretrained(mobilenet_v3_small(), "mobilenet_v3_small", str(tmp_path / "other.pth"), "k")


def test_fine_tuning_keeps_a_fresh_head_of_another_size(hub):
    url = get_model_weights("mobilenet_v3_small")["IMAGENET1K_V1"].url
    hub.mkdir(parents=True)
    state = mobilenet_v3_small().state_dict()
    torch.save(state, hub / url.rsplit("/", 1)[1])
    net = mobilenet_v3_small(num_classes=6)
    pretrained.load_pretrained(net, "mobilenet_v3_small", "IMAGENET1K_V1", "k", head="classifier.3.")
    assert torch.equal(net.state_dict()["classifier.0.weight"], state["classifier.0.weight"])
    assert net.classifier[3].weight.shape == (6, 1024)
    with pytest.raises(ConfigError, match="does not fit"):  # without a head to leave out, a mismatch is an error
        pretrained.load_pretrained(mobilenet_v3_small(num_classes=6), "mobilenet_v3_small", "IMAGENET1K_V1", "k")


def test_vgg_asks_for_the_torchvision_model_of_its_configuration(monkeypatch):
    from lit_modules import vgg

    calls = []
    monkeypatch.setattr(vgg, "load_pretrained", lambda net, arch, weights, key, head: calls.append((arch, weights, head)))
    vgg.VGGModule(num_classes=6, config="A", batch_norm=True, width=0.125, fc_dim=64, weights="IMAGENET1K_V1")
    assert calls == [("vgg11_bn", "IMAGENET1K_V1", "classifier.6.")]


def test_vit_pretrained_through_timm_from_a_local_file(tmp_path):
    import timm

    from lit_modules.vit import ViTModule

    state = timm.create_model("vit_tiny_patch16_224").state_dict()
    torch.save(state, tmp_path / "vit_tiny.pth")
    m = ViTModule(num_classes=6, image_size=32, width=192, depth=12, heads=3, pretrained=True,
                  pretrained_file=str(tmp_path / "vit_tiny.pth"))
    assert torch.equal(m.net.blocks[3].attn.qkv.weight, state["blocks.3.attn.qkv.weight"])
    assert m.net.head.weight.shape == (6, 192) and m.net.pos_embed.shape[1] == 1 + (32 // 16) ** 2
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 6)


def test_vit_pretrained_offline_without_cache_names_cache_and_url(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from lit_modules.vit import ViTModule

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(ConfigError) as e:
        ViTModule(num_classes=6, image_size=32, width=192, depth=12, heads=3, pretrained=True)
    msg = str(e.value)
    assert str(tmp_path / "hf") in msg and "https://huggingface.co/timm/vit_tiny_patch16_224" in msg


def test_captioning_encoder_takes_the_torchvision_weight_name(hub):
    from torchvision.models import resnet18

    from lit_modules.nets.captioner import Captioner

    url = get_model_weights("resnet18")["IMAGENET1K_V1"].url
    hub.mkdir(parents=True)
    state = resnet18().state_dict()
    torch.save(state, hub / url.rsplit("/", 1)[1])
    net = Captioner(12, encoder="resnet18", encoder_weights="IMAGENET1K_V1")
    assert torch.equal(net.encoder[0].weight, state["conv1.weight"])  # encoder = resnet18 up to layer4
    with pytest.raises(ConfigError, match="model.init_args.encoder_weights"):
        Captioner(12, encoder="resnet50", encoder_weights="IMAGENET1K_V1")  # not in the cache, offline
