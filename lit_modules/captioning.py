"""Image captioning: Show and Tell (Vinyals et al. 2015) and Show, Attend and Tell (Xu et al. 2015),
one module around ``nets.captioner.Captioner`` with ``attention`` choosing the paper.

Batch contract (``datamodules.captioning``): ``(images (B, 3, H, W) normalised, tokens (B, T)
int64 = <bos> words <eos> <pad>..., references: list[list[str]])`` where references holds every
caption of each image, normalised (``contracts.vocab.normalize``). Training: cross-entropy
with teacher forcing, <pad> ignored (a per-word mean), plus with attention ``doubly_stochastic``
x sum_i (1 - sum_t alpha_ti)^2 / (words per caption), which is the paper's lambda against its
per-caption sum of word losses. Validation also decodes (greedy, or beam search when
``beam_width`` > 1) and scores corpus BLEU-1..4 (torchmetrics ``BLEUScore``) against all references of each image:
``val/bleu1``..``val/bleu4`` (``val/bleu4`` is the headline).

The vocabulary comes from the datamodule (built from the training captions) at setup; the
network is built then, and the vocabulary is saved in every checkpoint (``"vocabulary"``) so
``load_from_checkpoint`` rebuilds it, and a checkpoint whose vocabulary differs from the data's
is refused with the difference named.

CIDEr is not computed: no maintained package providing it is installed here (pycocoevalcap is
not; torchmetrics has no CIDEr), and BLEU is what the issue and the papers' tables compare.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
from torch import Tensor
from torchmetrics import MetricCollection
from torchmetrics.text import BLEUScore

from contracts.errors import ConfigError
from contracts.vocab import EOS, PAD, Vocabulary
from lit_modules.eval_means import eval_means, log_mean
from lit_modules.losses.captioning import caption_cross_entropy, doubly_stochastic
from lit_modules.media import to_display
from lit_modules.metrics.caption_media import attention_strip
from lit_modules.nets.captioner import Captioner
from lit_modules.nets.pretrained import resolve
from lit_modules.optim import Optimised

Batch = tuple[Tensor, Tensor, list[list[str]]]


def bleu_metrics(prefix: str) -> MetricCollection:
    """BLEU-1..4 of normalised hypotheses against every reference, logged as ``{prefix}bleu{n}``."""
    return MetricCollection({f"bleu{n}": BLEUScore(n_gram=n) for n in range(1, 5)}, prefix=prefix)


class CaptioningModule(Optimised, L.LightningModule):
    """CNN encoder + LSTM decoder captioner; logs ``val/bleu1..4``.

    Args:
        attention: soft attention over the encoder grid (Show-Attend-Tell) or the image as the
            LSTM's first input only (Show-Tell).
        encoder: "conv" (small CNN from scratch) or a torchvision ResNet ("resnet18"/"resnet50";
            the papers used ImageNet-pretrained GoogLeNet/VGG: give weights via ``encoder_weights``).
        encoder_width: first conv stage's channels (``encoder="conv"``).
        encoder_stages: conv stages; the attention grid is (H / 2**stages)^2.
        encoder_weights: ImageNet weights of a ResNet encoder: a torchvision weight name (``IMAGENET1K_V1``,
            fetched into torch.hub's cache when online) or a local state-dict file.
        embed_dim: word embedding size (paper: 512).
        hidden_dim: LSTM size (paper: 512 Show-Tell, 1800 on COCO for soft attention).
        attention_dim: additive attention's hidden size.
        dropout: dropout before the output layer.
        doubly_stochastic: lambda of the attention regulariser (paper: 1; ignored without attention).
        beam_width: validation/test decoding; 1 = greedy.
        length_penalty: beam hypotheses ranked by score / length**length_penalty (0 = none).
        max_len: longest decoded caption in tokens (incl. <eos>).
        lr: peak learning rate.
        optimizer: "adam" (paper: RMSProp/Adam) / "adamw" / "sgd".
        weight_decay: decoupled weight decay (none on biases and norms).
        schedule: "cosine" or "constant" after the warm-up.
        warmup_epochs: linear warm-up length (fractions allowed).
        media_images: validation images logged with their decoded caption (and attention maps).
    """

    primary_metric = "val/bleu4"

    @staticmethod
    def method_name(hparams: dict[str, Any]) -> str:
        return "Show-Attend-Tell" if hparams.get("attention", True) else "Show-Tell"

    def __init__(
        self,
        attention: bool = True,
        encoder: Literal["conv", "resnet18", "resnet50"] = "conv",
        encoder_width: int = 32,
        encoder_stages: int = 3,
        encoder_weights: str | None = None,
        embed_dim: int = 128,
        hidden_dim: int = 256,
        attention_dim: int = 128,
        dropout: float = 0.3,
        doubly_stochastic: float = 1.0,
        beam_width: int = 1,
        length_penalty: float = 0.0,
        max_len: int = 20,
        lr: float = 1e-3,
        optimizer: Literal["sgd", "adamw", "adam"] = "adam",
        weight_decay: float = 0.0,
        schedule: Literal["cosine", "constant"] = "cosine",
        warmup_epochs: float = 0.0,
        media_images: int = 4,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if beam_width < 1:
            raise ConfigError(f"model.init_args.beam_width must be >= 1 (1 = greedy), got {beam_width}")
        if encoder_weights is not None and encoder != "conv":  # the net is built at setup: fail before the data
            resolve(encoder, encoder_weights, "model.init_args.encoder_weights")
        self.vocab: Vocabulary | None = None
        self._vocab_origin = ""
        self.net: Captioner | None = None
        self.val_bleu, self.test_bleu = bleu_metrics("val/"), bleu_metrics("test/")
        self.eval_means = eval_means("loss", "ce", "attention_reg")  # exact over ranks with unequal shards

    # --- vocabulary: from the data at setup, from the checkpoint on load -----------------------

    def build(self, vocab: Vocabulary, origin: str = "the data") -> None:
        """Build the network for ``vocab`` (called once; later vocabularies must equal it)."""
        h = self.hparams
        self.vocab, self._vocab_origin = vocab, origin
        self.net = Captioner(len(vocab), h.attention, h.encoder, h.encoder_width, h.encoder_stages, h.encoder_weights,
                             h.embed_dim, h.hidden_dim, h.attention_dim, h.dropout)

    def _check_same(self, vocab: Vocabulary, where: str) -> None:
        if self.vocab is not None and vocab != self.vocab:
            raise ConfigError(f"the vocabulary of {where} differs from that of {self._vocab_origin} "
                              f"({self.vocab.difference(vocab)}); a captioner only works with the "
                              "vocabulary it was trained with: use the same data and data.init_args.min_count.")

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        vocab = getattr(dm, "vocab", None)
        if vocab is None:
            if self.vocab is None:
                raise ConfigError("CaptioningModule needs a datamodule with a vocabulary "
                                  "(datamodules.captioning.CaptioningDataModule).")
            return
        if self.vocab is None:
            self.build(vocab, f"the data ({dm.describe()})")
        else:
            self._check_same(vocab, f"the data ({dm.describe()})")

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vocabulary"] = list(self.vocab.words) if self.vocab else None

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        words = checkpoint.get("vocabulary")
        if not words:
            raise ConfigError("this checkpoint holds no captioning vocabulary (not written by CaptioningModule?)")
        vocab = Vocabulary(words)
        if self.vocab is None:
            self.build(vocab, "the checkpoint")  # load_from_checkpoint: the module was built without data
        else:
            self._check_same(vocab, "the checkpoint")

    # --- training and evaluation ----------------------------------------------------------------

    def forward(self, images: Tensor, tokens: Tensor | None = None) -> Any:
        """With tokens: teacher-forced (logits, attention); without: decoded ids (B, max_len)."""
        if tokens is not None:
            return self.net(images, tokens)
        return self.decode(images)

    def decode(self, images: Tensor) -> Tensor:
        h = self.hparams
        if h.beam_width == 1:
            return self.net.greedy(images, h.max_len)[0]
        return self.net.beam_search(images, h.beam_width, h.max_len, h.length_penalty)[0][:, 0]

    def _loss(self, images: Tensor, tokens: Tensor, stage: str) -> Tensor:
        logits, alphas = self.net(images, tokens[:, :-1])  # predict tokens 1..T from 0..T-1
        targets = tokens[:, 1:]
        ce = caption_cross_entropy(logits, targets, PAD)
        loss = ce
        if alphas is not None and self.hparams.doubly_stochastic:
            words = targets != PAD
            reg = doubly_stochastic(alphas, words)
            # The paper sums the word NLL over each caption; ce is a per-word mean, so the term is
            # divided by the words per caption to keep the paper's balance at the same lambda.
            loss = loss + self.hparams.doubly_stochastic * reg / words.sum(1).float().mean().clamp_min(1)
            self._log_part(stage, "attention_reg", reg, len(images))  # a per-image mean
        # a per-word mean: evaluation weights it by the batch's words (exact over any batches and ranks)
        self._log_part(stage, "ce", ce, len(images) if stage == "train" else int((targets != PAD).sum()))
        if not torch.isfinite(loss):
            raise FloatingPointError(f"captioning {stage} loss is {float(loss)} at epoch {self.current_epoch}, "
                                     f"step {self.global_step}: training diverged (lower model.init_args.lr?)")
        return loss

    def _log_part(self, stage: str, name: str, value: Tensor, count: int) -> None:
        if stage == "train":
            self.log(f"train/{name}", value, batch_size=count)
        else:
            log_mean(self, self.eval_means, stage, name, value, count)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, tokens, _ = batch
        loss = self._loss(images, tokens, "train")
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    def _eval_step(self, batch: Batch, metrics: MetricCollection, stage: str) -> list[str]:
        images, tokens, references = batch
        # Weighted by the batch's words, as ce: the mean over the split's words whatever the batches
        # (and the ranks' shards); with the attention regulariser its per-batch term is not exact.
        words = int((tokens[:, 1:] != PAD).sum())
        log_mean(self, self.eval_means, stage, "loss", self._loss(images, tokens, stage), words)
        hyps = [self.vocab.decode(ids) for ids in self.decode(images).tolist()]
        metrics.update(hyps, references)
        self.log_dict(metrics, prog_bar=stage == "val", batch_size=len(images))
        return hyps

    def validation_step(self, batch: Batch, batch_idx: int) -> list[str]:
        return self._eval_step(batch, self.val_bleu, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> list[str]:
        return self._eval_step(batch, self.test_bleu, "test")

    def predict_step(self, batch: Batch, batch_idx: int) -> list[str]:
        return [self.vocab.decode(ids) for ids in self.decode(batch[0]).tolist()]

    def wandb_media(self, batch: Batch, outputs: object) -> dict:
        """The first validation images with the greedy caption; with attention, one panel per word."""
        import wandb  # only runs that log to W&B call this

        images, _, references = batch
        images = images[: self.hparams.media_images]
        with torch.no_grad():
            ids, alphas = self.net.greedy(images, self.hparams.max_len)
            _, grid = self.net.encode(images[:1])
        shown = []
        for i, img in enumerate(to_display(images)):
            seq = ids[i].tolist()
            steps = seq.index(EOS) + 1 if EOS in seq else len(seq)
            words = [self.vocab.words[t] for t in seq[:steps]]
            text = f"{' | '.join(words)}\ntruth: {references[i][0]}"
            picture = img if alphas is None else attention_strip(img, alphas[i], grid, steps)
            shown.append(wandb.Image(picture, caption=text))
        return {"val/attention" if alphas is not None else "val/captions": shown}
