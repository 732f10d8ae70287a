"""Trivial captioner: the training set's most frequent caption, said of every validation image.

It knows the grammar's commonest phrasing and nothing of the image, so the gap to a demo's BLEU is
what looking at the image adds. Scored with the module's own BLEU (``bleu_metrics``).
"""

from __future__ import annotations

from collections import Counter

import lightning as L

from lit_modules.captioning import bleu_metrics

OVERRIDES: list[str] = []


def trivial_scores(model: L.LightningModule, dm: L.LightningDataModule) -> dict[str, dict[str, float]]:
    """BLEU-1..4 of the most frequent training caption against each validation image's references."""
    dm.setup("fit")
    counts = Counter(c for _, _, references in dm.train_dataloader() for captions in references for c in captions)
    caption = counts.most_common(1)[0][0]  # Counter keeps first-seen order among ties: deterministic
    metric = bleu_metrics("val/")
    for _, _, references in dm.val_dataloader():
        metric.update([caption] * len(references), references)
    return {"most_frequent_caption": {k: float(v) for k, v in metric.compute().items()}}
