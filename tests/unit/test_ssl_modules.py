"""SimCLR / MoCo v2 modules and linear evaluation: steps, key shuffling, checkpoint checks."""

import pytest
import torch

from contracts.errors import ConfigError
from lit_modules.linear_eval import LinearEval
from lit_modules.moco import MoCoV2
from lit_modules.ops.lars import LARS
from lit_modules.simclr import SimCLR

SMALL = {"num_classes": 3, "encoder": "small_cnn", "width": 8, "proj_hidden": 32, "proj_dim": 16}


def _batch(b=6, size=32):
    torch.manual_seed(0)
    return torch.randn(b, 2, 3, size, size), torch.tensor([0, 1, 2, -1, 0, 1][:b])


def test_simclr_step_gives_a_finite_loss_and_gradients():
    model = SimCLR(**SMALL, temperature=0.5)
    loss = model.training_step(_batch(), 0)
    loss.backward()
    assert loss.isfinite()
    assert all(p.grad is not None for p in model.backbone.parameters())
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 64)  # features: 8 * width


def test_probe_does_not_train_the_encoder():
    model = SimCLR(**SMALL)
    views, labels = _batch()
    h = model.backbone(views[:, 0])
    torch.nn.functional.cross_entropy(model.probe(h.detach()), labels.clamp(min=0)).backward()
    assert all(p.grad is None for p in model.backbone.parameters())


def test_one_view_batch_is_a_clear_error():
    model = SimCLR(**SMALL)
    with pytest.raises(ValueError, match="two augmented views"):
        model.training_step((torch.randn(4, 3, 32, 32), torch.zeros(4, dtype=torch.long)), 0)


def test_moco_keys_come_back_in_input_order_after_the_shuffle():
    model = MoCoV2(**SMALL, queue_size=16, bn_groups=2).eval()  # eval: BN uses running stats
    x = torch.randn(6, 3, 32, 32)
    with torch.no_grad():
        expected = model.key_head(model.key_backbone(x))
        torch.testing.assert_close(model._keys(x), expected, rtol=1e-5, atol=1e-6)


def test_moco_step_fills_the_queue_and_moves_the_key_encoder():
    model = MoCoV2(**SMALL, queue_size=8, key_momentum=0.5)
    before = model.queue.clone()
    with torch.no_grad():
        next(model.backbone.parameters()).add_(1.0)  # online and key encoders now differ
    model.training_step(_batch(), 0).backward()
    assert int(model.queue_ptr) == 6 and not torch.equal(model.queue[:6], before[:6])
    assert torch.equal(model.queue[6:], before[6:])
    model.training_step(_batch(), 0)
    assert int(model.queue_ptr) == 4  # 12 keys into 8 slots: wraps around
    online, key = next(model.backbone.parameters()), next(model.key_backbone.parameters())
    assert not torch.equal(online, key) and key.requires_grad is False


def test_lars_scales_steps_by_the_trust_ratio():
    w = torch.nn.Parameter(torch.ones(4) * 2)  # ||w|| = 4
    w.grad = torch.ones(4) * 100  # ||g|| = 200
    LARS([w], lr=1.0, momentum=0.0, eta=0.1).step()
    # step = lr * eta * ||w|| / ||g|| * g = 0.1 * 4 / 200 * 100 = 0.2 per element
    torch.testing.assert_close(w.detach(), torch.full((4,), 1.8))


def _save(model, path):
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return str(path)


def test_linear_eval_loads_and_freezes_the_encoder(tmp_path):
    model = SimCLR(**SMALL)
    ckpt = _save(model, tmp_path / "simclr.ckpt")
    lin = LinearEval(ckpt, num_classes=3, encoder="small_cnn", width=8).train()
    for a, b in zip(lin.net[0].state_dict().values(), model.backbone.state_dict().values()):
        assert torch.equal(a, b)
    assert not lin.net[0].training and lin.net[2].training
    assert [n for n, p in lin.named_parameters() if p.requires_grad] == ["net.2.weight", "net.2.bias"]
    rand = LinearEval("random", num_classes=3, encoder="small_cnn", width=8)
    assert not torch.equal(next(rand.net[0].parameters()), next(model.backbone.parameters()))


def test_linear_eval_rejects_a_checkpoint_of_another_encoder(tmp_path):
    ckpt = _save(SimCLR(**SMALL), tmp_path / "simclr.ckpt")
    with pytest.raises(ConfigError, match="width=16 here but 8 in the checkpoint"):
        LinearEval(ckpt, num_classes=3, encoder="small_cnn", width=16)
    with pytest.raises(ConfigError, match="encoder='resnet18' here but 'small_cnn'"):
        LinearEval(ckpt, num_classes=3, encoder="resnet18", cifar_stem=True)
    with pytest.raises(ConfigError, match="not a file"):
        LinearEval(str(tmp_path / "missing.ckpt"), num_classes=3, encoder="small_cnn", width=8)
    (tmp_path / "junk.ckpt").write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="junk.ckpt: not a readable"):
        LinearEval(str(tmp_path / "junk.ckpt"), num_classes=3, encoder="small_cnn", width=8)
