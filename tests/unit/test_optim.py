"""The one optimisation module: the LR curve, parameter groups, and every family built through it."""

from __future__ import annotations

import contextlib
import inspect
import io
import itertools
import math

import pytest
import torch
from torch import nn

from lit_modules.optim import lr_factor, make_optimizer, param_groups, schedule


def _curve(**kw) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = schedule(opt, **kw)["lr_scheduler"]["scheduler"]
    out = []
    for _ in range(kw["total_steps"]):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_warmup_then_cosine_over_the_remaining_steps():
    # 100 steps over 10 epochs, 1 epoch (10 steps) of warm-up.
    lrs = _curve(schedule="cosine", total_steps=100, epochs=10, warmup_epochs=1.0)
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])  # linear, reaching 1 at step 9
    assert lrs[10] == pytest.approx(1.0)  # the cosine starts at its peak right after the warm-up
    assert lrs[55] == pytest.approx(0.5)  # half-way through the 90 cosine steps
    assert lrs[99] == pytest.approx(0.5 * (1 + math.cos(math.pi * 89 / 90)))
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))  # monotone after warm-up


def test_step_schedule_every_step_epochs_and_at_milestones():
    every = _curve(schedule="step", total_steps=60, epochs=6, step_epochs=2)
    assert every[19] == pytest.approx(1.0) and every[20] == pytest.approx(0.1) and every[40] == pytest.approx(0.01)
    marks = _curve(schedule="step", total_steps=60, epochs=6, milestones=[3, 5])
    assert marks[29] == pytest.approx(1.0) and marks[30] == pytest.approx(0.1) and marks[50] == pytest.approx(0.01)


def test_constant_after_warmup_and_fractional_warmup():
    lrs = _curve(schedule="constant", total_steps=40, epochs=4, warmup_epochs=0.25)  # 2.5 steps
    assert lrs[:3] == pytest.approx([0.4, 0.8, 1.0])
    assert set(lrs[3:]) == {1.0}
    assert lr_factor(0, schedule="cosine", total=10) == pytest.approx(1.0)


def test_param_groups_exempt_biases_and_norms_and_skip_frozen():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    net[2].weight.requires_grad_(False)
    decay, no_decay = param_groups(net.parameters(), 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [net[0].weight.shape]  # the frozen Linear weight is out
    assert len(no_decay["params"]) == 4  # conv bias, BN weight and bias, Linear bias


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "lars"])
def test_every_optimizer_steps(name):
    w = nn.Parameter(torch.ones(3, 3))
    opt = make_optimizer(param_groups([w], 0.0), name, 0.1)
    (w ** 2).sum().backward()
    opt.step()
    assert (w < 1).all()


def test_method_files_declare_only_their_own_arguments():
    """A family base's arguments reach a method as **kwargs, by keyword: none is re-declared."""
    from lit_modules.alexnet import AlexNetModule
    from lit_modules.classification import ClassificationModule
    from lit_modules.deconvnet import DeconvNetModule
    from lit_modules.deeplab import DeepLabModule
    from lit_modules.detection import DetectionModule
    from lit_modules.faster_rcnn import FasterRCNNModule
    from lit_modules.fcn import FCNModule
    from lit_modules.linear_eval import LinearEval
    from lit_modules.moco import MoCoV2
    from lit_modules.segmentation import SegmentationModule
    from lit_modules.segnet import SegNetModule
    from lit_modules.simclr import SimCLR
    from lit_modules.ssl import SSLModule
    from lit_modules.unet import UNetModule
    from lit_modules.vgg import VGGModule
    from lit_modules.video import VideoModule
    from lit_modules.vit import ViTModule
    from lit_modules.yolo import YOLOModule

    for base, methods in ((ClassificationModule, (AlexNetModule, VGGModule, ViTModule, VideoModule, LinearEval)),
                          (DetectionModule, (FasterRCNNModule, YOLOModule)), (SSLModule, (SimCLR, MoCoV2)),
                          (SegmentationModule, (UNetModule, FCNModule, SegNetModule, DeconvNetModule, DeepLabModule))):
        inherited = set(inspect.signature(base.__init__).parameters) - {"self", "num_classes"}
        for m in methods:
            params = inspect.signature(m.__init__).parameters
            assert not inherited & set(params), (m.__name__, inherited & set(params))
            assert any(p.kind is p.VAR_KEYWORD for p in params.values()), m.__name__


def test_cli_help_lists_the_base_arguments_with_their_docstrings():
    from jsonargparse import ArgumentParser

    from lit_modules.classification import ClassificationModule

    parser = ArgumentParser()
    parser.add_subclass_arguments(ClassificationModule, "model")
    cfg = parser.parse_args(["--model", "lit_modules.alexnet.AlexNetModule", "--model.lr", "0.5",
                             "--model.lrn", "false"])
    assert cfg.model.init_args.lr == 0.5 and cfg.model.init_args.lrn is False
    assert cfg.model.init_args.schedule == "step"  # the base's default reaches the method
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args(["--model.help", "lit_modules.alexnet.AlexNetModule"])
    text = out.getvalue()
    assert "--model.warmup_epochs" in text and "linear warm-up length" in text, text
    assert "--model.lrn" in text and "local response normalisation" in text


def test_families_share_one_curve():
    """Classification, detection and U-Net modules with the same settings schedule identically."""
    from lit_modules.alexnet import AlexNetModule
    from lit_modules.unet import UNetModule

    class _Trainer:
        estimated_stepping_batches, max_epochs = 50, 5

    settings = {"lr": 0.1, "optimizer": "sgd", "weight_decay": 0.0, "schedule": "cosine", "warmup_epochs": 0.5}
    curves = []
    for module in (AlexNetModule(num_classes=4, width=0.25, fc_dim=8, pool_output=1, **settings),
                   UNetModule(num_classes=3, depth=2, width=4, momentum=0.9, **settings)):
        module.trainer = _Trainer()  # type: ignore[assignment]  # only the two step counts are read
        conf = type(module).configure_optimizers(module)
        opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
        lrs = []
        for _ in range(50):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        curves.append(lrs)
    assert curves[0] == pytest.approx(curves[1])


def test_hyper_parameters_hold_base_and_method_arguments():
    """The base saves them all, so a checkpoint rebuilds the module and a report sees the recipe."""
    from lit_modules.alexnet import AlexNetModule

    m = AlexNetModule(num_classes=4, width=0.25, fc_dim=8, pool_output=1, lr=0.5)
    assert m.hparams.lr == 0.5 and m.hparams.width == 0.25 and m.hparams.schedule == "step"
    again = AlexNetModule(**m.hparams)
    assert dict(again.hparams) == dict(m.hparams)


def test_lr_scaling_rules():
    from experiments.scaling import lr_factor

    assert lr_factor(512, 256, "linear") == 2.0
    assert lr_factor(1024, 256, "sqrt") == 2.0
    assert lr_factor(512, 256, "none") == 1.0 and lr_factor(512, None, "linear") == 1.0


def test_lecun_schedule_is_the_papers_20_passes_stretched():
    # LeCun 1998 Sec. V.A: 0.0005 x (1, 0.4, 0.2, 0.1, 0.02) for passes 1-2, 3-5, 6-8, 9-12, 13-20; 20 "passes" of 10 steps.
    lrs = _curve(schedule="lecun", total_steps=200, epochs=20)
    per_pass = [lrs[10 * k] for k in range(20)]
    assert per_pass == pytest.approx([1.0] * 2 + [0.4] * 3 + [0.2] * 3 + [0.1] * 4 + [0.02] * 8)
    assert all(a >= b for a, b in itertools.pairwise(lrs))
