"""init_from / reinit / freeze / lr_mult (lit_modules.transfer) on the classification and segmentation bases."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

from contracts.errors import ConfigError
from lit_modules.alexnet import AlexNetModule
from lit_modules.optim import make_optimizer
from lit_modules.unet import UNetModule

pytestmark = pytest.mark.unit
SMALL = {"width": 0.25, "fc_dim": 32, "pool_output": 1, "lrn": False, "dropout": 0.0}


def _save(module, path, class_path="lit_modules.alexnet.AlexNetModule"):
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": {"_class_path": class_path}}, path)
    return path


def _alexnet(num_classes=8, **kw):
    torch.manual_seed(num_classes + len(kw))
    m = AlexNetModule(num_classes=num_classes, **SMALL, **kw)
    m.apply_transfer()
    return m


def test_init_from_copies_matching_tensors_and_reinitialises_the_head(tmp_path, caplog):
    src = _alexnet(8)
    run = tmp_path / "run"
    _save(src, run / "checkpoints" / "last.ckpt")  # a run folder: its last.ckpt is taken
    with caplog.at_level(logging.WARNING, logger="lit_modules.transfer"):
        dst = _alexnet(5, init_from=str(run))
    for k in ("net.features.0.weight", "net.classifier.4.weight"):
        assert torch.equal(dst.state_dict()[k], src.state_dict()[k])
    assert set(dst.transfer_report["reinitialised"]) == {"net.classifier.6.weight", "net.classifier.6.bias"}
    assert dst.net.classifier[6].weight.shape == (5, 32)
    assert "net.classifier.6.weight (5, 32) (checkpoint (8, 32))" in caplog.text


def test_reinit_keeps_named_blocks_fresh_even_when_they_fit(tmp_path):
    src = _alexnet(8)
    ckpt = _save(src, tmp_path / "a.ckpt")
    dst = _alexnet(8, init_from=str(ckpt), reinit=["classifier"])
    assert torch.equal(dst.net.features[0].weight, src.net.features[0].weight)
    assert not torch.equal(dst.net.classifier[1].weight, src.net.classifier[1].weight)
    assert all(k.startswith("net.classifier.") for k in dst.transfer_report["reinitialised"])


def test_yosinski_copy_first_layers_frozen(tmp_path):
    """reinit = everything after conv1, freeze = loaded: only conv1 is copied and frozen (Yosinski's A1B)."""
    src = _alexnet(8)
    ckpt = _save(src, tmp_path / "a.ckpt")
    later = ["features.4", "features.8", "features.10", "features.12", "classifier"]
    dst = _alexnet(8, init_from=str(ckpt), reinit=later, freeze=["loaded"])
    assert dst._frozen == ["net.features.0"]
    assert torch.equal(dst.net.features[0].weight, src.net.features[0].weight)
    assert not dst.net.features[0].weight.requires_grad and dst.net.features[4].weight.requires_grad
    everything = _alexnet(8, init_from=str(ckpt), reinit=["features", "classifier"], freeze=["loaded"])
    assert everything._frozen == [] and not everything.transfer_report["loaded"]  # n = 0: a scratch run


def test_freeze_stops_gradients_and_keeps_them_out_of_the_optimiser():
    m = _alexnet(8, freeze=["features"])
    F.cross_entropy(m(torch.randn(2, 3, 64, 64)), torch.tensor([0, 1])).backward()
    assert all(p.grad is None for p in m.net.features.parameters())
    assert all(p.grad is not None for p in m.net.classifier.parameters())
    trained = {id(p) for g in m.optimizer_groups() for p in g["params"]}
    assert trained == {id(p) for p in m.net.classifier.parameters()}
    m.train()
    assert not m.net.features.training and m.net.classifier.training  # frozen BN/dropout stay in eval


def test_frozen_batchnorm_keeps_its_statistics():
    m = UNetModule(num_classes=3, depth=2, width=8, freeze=["down"])  # the dense family: same arguments
    m.apply_transfer()
    m.train()
    bns = [b for b in m.net.down.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    assert bns, "the first U-Net block has BatchNorm"
    before = bns[0].running_mean.clone()
    m(torch.randn(2, 3, 32, 32) * 5 + 3)
    assert torch.equal(bns[0].running_mean, before)


def test_lr_mult_gives_blocks_their_own_peak_rate():
    m = _alexnet(8, lr_mult={"features": 0.1, "net.classifier.6": 0.0})
    opt = make_optimizer(m.optimizer_groups(), "sgd", 0.5)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    assert lr_of[id(m.net.features[0].weight)] == pytest.approx(0.05)
    assert lr_of[id(m.net.classifier[1].weight)] == pytest.approx(0.5)
    assert lr_of[id(m.net.classifier[6].bias)] == 0.0  # the longest matching name wins
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(m.parameters()))


def test_bad_input_is_one_config_error_naming_the_value(tmp_path):
    with pytest.raises(ConfigError, match="no such run folder or checkpoint"):
        _alexnet(8, init_from=str(tmp_path / "missing_run"))
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ConfigError, match="holds no checkpoints"):
        _alexnet(8, init_from=str(tmp_path / "empty_run"))
    seg = _save(UNetModule(num_classes=3, depth=2, width=8), tmp_path / "seg.ckpt", "lit_modules.unet.UNetModule")
    with pytest.raises(ConfigError, match="lit_modules.unet.UNetModule .segmentation family.*classification run only"):
        _alexnet(8, init_from=str(seg))
    with pytest.raises(ConfigError, match=r"\['fetures'\] match no module.*blocks: net, net.features, net.classifier"):
        _alexnet(8, freeze=["fetures"])
    with pytest.raises(ConfigError, match="lr_mult"):
        _alexnet(8, lr_mult={"head": 0.1})


def test_cli_missing_run_folder_is_one_line_and_exit_2(tmp_path):
    from tests.conftest import ROOT, paperlab_in_process

    missing = tmp_path / "no_run"
    code, _, stderr = paperlab_in_process("fit", "--config", str(ROOT / "configs/transfer/demo.yaml"),
                                          "--model.init_args.init_from", str(missing), cwd=tmp_path)
    assert code == 2 and "Traceback" not in stderr
    assert f"model.init_args.init_from='{missing}': no such run folder or checkpoint file" in stderr
