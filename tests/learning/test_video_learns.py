"""The video module trains end to end: on a few ShapesWorld motion clips C3D's loss falls."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from datamodules.shapes.scene import WorldConfig
from datamodules.video import VideoDataModule
from lit_modules.video import VideoModule

# The demo world (configs/c3d/demo.yaml); 64 clips so the test runs in seconds on 2 cores.
WORLD = WorldConfig(image_size=32, kinds=("square", "triangle", "star", "cross", "diamond", "crescent"),
                    min_objects=1, max_objects=1, scale_range=(0.3, 0.6), clutter=1, background="texture")


def _loss(m: VideoModule, dm: VideoDataModule) -> float:
    # Train-mode BN (batch statistics): after 24 steps the running averages still lag behind.
    m.train()
    with torch.no_grad():
        losses = [F.cross_entropy(m(x), y, reduction="sum") for x, y in dm.val_dataloader()]
    return float(sum(losses)) / len(dm._val)


@pytest.mark.learning
def test_c3d_training_loss_falls(tmp_path):
    L.seed_everything(0, verbose=False)
    # clip_frames == num_frames: no temporal jitter, so training and the centre val clip coincide.
    dm = VideoDataModule(world=WORLD, train_size=64, val_size=64, batch_size=32, num_frames=6, clip_frames=6)
    dm.setup("fit")
    dm._val = dm._train.__class__(dm._train.source, dm._val.sampler, 32, None)  # score the training clips
    m = VideoModule(arch="c3d", width=0.125, hidden=64, dropout=0.0, batch_norm=True, pool_output=(1, 1, 1),
                    lr=3e-3, optimizer="adamw", weight_decay=0.0, schedule="constant")
    before = _loss(m, dm)
    trainer = L.Trainer(max_epochs=16, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(m, dm)
    after = _loss(m, dm)
    assert before > 2.0  # ln 9 = 2.20 before training
    assert after < 0.75 * before, (before, after)  # 2.20 -> 1.63 after 12 epochs when written
