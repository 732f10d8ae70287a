"""Show-Attend-Tell learns: on a few small ShapesWorld scenes its greedy captions go from noise
to BLEU-4 well above zero against each image's 5 references."""

import lightning as L
import pytest
import torch
from torch.utils.data import Subset

from datamodules.captioning import CaptioningDataModule, Encoded
from datamodules.shapes.scene import WorldConfig
from lit_modules.captioning import CaptioningModule

# A smaller, easier cousin of the demo world (configs/show_attend_tell/demo.yaml) at 32 px.
WORLD = WorldConfig(image_size=32, kinds=("circle", "square", "triangle"), min_objects=1, max_objects=2,
                    scale_range=(0.35, 0.6), clutter=0, occlusion=0.1, background="flat")


def _bleu4(m: CaptioningModule, dm: CaptioningDataModule) -> float:
    m.eval()
    m.val_bleu.reset()
    with torch.no_grad():
        for images, _, refs in dm.val_dataloader():
            m.val_bleu.update([m.vocab.decode(ids) for ids in m.decode(images).tolist()], refs)
    return float(m.val_bleu.compute()["val/bleu4"])


@pytest.mark.learning
def test_show_attend_tell_bleu4_rises(tmp_path):
    L.seed_everything(0, verbose=False)
    dm = CaptioningDataModule(image_size=32, world=WORLD, train_size=256, val_size=64, batch_size=32)
    dm.setup("fit")
    dm._val = Encoded(Subset(dm._train.base, range(128)), dm.vocab, 24, train=False)  # score training scenes
    m = CaptioningModule(attention=True, encoder_width=8, encoder_stages=2, embed_dim=32, hidden_dim=64,
                         attention_dim=32, dropout=0.0, doubly_stochastic=0.1, lr=1e-2, schedule="constant",
                         max_len=16)
    m.build(dm.vocab)  # what setup does at fit start; here to score the untrained net
    before = _bleu4(m, dm)
    trainer = L.Trainer(max_epochs=20, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path, num_sanity_val_steps=0,
                        limit_val_batches=0, gradient_clip_val=5.0)
    trainer.fit(m, dm)
    after = _bleu4(m, dm)
    assert before < 0.05 and after > 0.3, (before, after)
