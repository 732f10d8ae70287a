"""U-Net trains end to end: on a few small ShapesWorld scenes its loss falls and mIoU rises."""

import lightning as L
import pytest
import torch

from datamodules.segmentation import SegmentationDataModule
from datamodules.shapes.scene import WorldConfig
from lit_modules.unet import UNetModule

WORLD = WorldConfig(image_size=32, kinds=("circle", "cross"), min_objects=1, max_objects=2,
                    scale_range=(0.4, 0.6), clutter=0, background="flat")


def _scores(m: UNetModule, dm: SegmentationDataModule) -> tuple[float, float]:
    m.train()  # batch statistics: after a hundred steps BN's running averages still lag behind
    m.val_metrics.reset()
    losses = []
    with torch.no_grad():
        for x, y in dm.val_dataloader():
            logits = m(x)
            losses.append(float(m._loss(logits, y)))
            m.val_metrics.update(logits.argmax(1), y)
    return sum(losses) / len(losses), float(m.val_metrics.compute()["val/miou"])


@pytest.mark.learning
def test_unet_loss_falls_and_miou_rises(tmp_path):
    L.seed_everything(0, verbose=False)
    dm = SegmentationDataModule(image_size=32, world=WORLD, train_size=128, val_size=128, batch_size=16)
    dm.setup("fit")
    dm._val = dm._train.base  # score the training scenes, unflipped (the base is the untransformed view)
    m = UNetModule(num_classes=3, depth=2, width=8, dice_weight=0.5, lr=1e-2, warmup_epochs=0.0,
                   schedule="constant", channels_last=False)
    loss0, miou0 = _scores(m, dm)
    trainer = L.Trainer(max_epochs=16, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(m, dm)
    loss1, miou1 = _scores(m, dm)
    assert loss1 < 0.5 * loss0
    assert miou0 < 0.35 and miou1 > 0.6  # 3 classes: chance level before, most pixels right after
