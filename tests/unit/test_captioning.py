"""Captioning: decoder shapes, teacher forcing vs step-by-step, greedy and beam search, the doubly
stochastic attention term and the padded cross-entropy; the vocabulary; the module's vocabulary
checks; and the caption sources on fixtures written in their real on-disk formats (COCO captions
json, Karpathy split json, Flickr8k token + split files), with each kind of bad input."""

import json
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from contracts.errors import ConfigError, DatasetError
from contracts.vocab import SPECIALS, UNK, Vocabulary, normalize, tokenize
from datamodules.captioning import CaptioningDataModule
from datamodules.shapes.scene import WorldConfig
from datamodules.sources.captions import COCOCaptions, FlickrCaptions, KarpathyCaptions
from lit_modules.captioning import CaptioningModule
from lit_modules.losses.captioning import caption_cross_entropy, doubly_stochastic
from lit_modules.metrics.caption_media import attention_strip
from lit_modules.nets.captioner import BOS, EOS, PAD, Captioner

# --- decoder ------------------------------------------------------------------------------------


def _net(attention: bool, v: int = 11) -> Captioner:
    torch.manual_seed(0)
    return Captioner(v, attention, encoder_width=4, encoder_stages=2, embed_dim=8, hidden_dim=12,
                     attention_dim=6, dropout=0.0).eval()


@pytest.mark.parametrize("attention", [True, False])
def test_teacher_forcing_shapes_and_step_consistency(attention):
    net = _net(attention)
    images, tokens = torch.randn(3, 3, 16, 16), torch.randint(3, 11, (3, 5))
    logits, alphas = net(images, tokens)
    assert logits.shape == (3, 5, 11)
    if attention:
        assert alphas.shape == (3, 5, 16)  # 16 px / 2**2 = a 4x4 grid
        torch.testing.assert_close(alphas.sum(-1), torch.ones(3, 5))  # each step's weights sum to 1
        assert (alphas >= 0).all()
    else:
        assert alphas is None
    # the whole-sequence path and the one-step path that decoding uses compute the same thing
    feats, _ = net.encode(images)
    state, proj = net.init_state(feats)
    for t in range(5):
        step_logits, state, _ = net.step(tokens[:, t], state, feats, proj)
        torch.testing.assert_close(step_logits, logits[:, t], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("attention", [True, False])
def test_greedy_and_beam_search(attention):
    net = _net(attention)
    images = torch.randn(4, 3, 16, 16)
    ids, alphas = net.greedy(images, max_len=7)
    assert ids.shape == (4, 7) and ids.dtype == torch.long
    assert not ((ids == BOS) | ((ids == PAD) & ~_after_eos(ids))).any()  # <bos>/<pad> only as padding
    if attention:
        assert alphas.shape == (4, 7, 16)
    beam1, _scores1 = net.beam_search(images, beam_width=1, max_len=7)
    assert torch.equal(beam1[:, 0], ids)  # width 1 is greedy
    beams, scores = net.beam_search(images, beam_width=4, max_len=7)
    assert beams.shape == (4, 4, 7) and scores.shape == (4, 4)
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # best first
    _, normed = net.beam_search(images, beam_width=4, max_len=7, length_penalty=1.0)
    assert (normed[:, :-1] >= normed[:, 1:]).all()
    # the reported score is the caption's log-likelihood under teacher forcing
    best = beams[:, 0]
    inputs = torch.cat([torch.full((4, 1), BOS), best[:, :-1]], 1)
    logp = net(images, inputs)[0].log_softmax(-1).gather(-1, best.unsqueeze(-1)).squeeze(-1)
    live = ~_after_eos(best) | (best == EOS)
    torch.testing.assert_close((logp * live).sum(1), scores[:, 0], atol=1e-4, rtol=1e-4)


def _after_eos(ids: torch.Tensor) -> torch.Tensor:
    """True at positions strictly after the first <eos>."""
    seen = (ids == EOS).long().cumsum(1)
    return (seen - (ids == EOS).long()) > 0


def test_attention_strip_shape():
    img = np.full((16, 16, 3), 200, np.uint8)
    alphas = torch.zeros(3, 16)
    alphas[:, 0] = 1.0
    strip = attention_strip(img, alphas, (4, 4), steps=2)
    assert strip.shape == (16, 48, 3) and strip.dtype == np.uint8
    assert strip[0, 16].mean() > strip[15, 31].mean()  # lit where attended (top-left cell), dark elsewhere


# --- losses ---------------------------------------------------------------------------------------


def test_doubly_stochastic_term():
    eye = torch.eye(4).unsqueeze(0)  # 4 steps, each on its own location: every location gets 1
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert float(doubly_stochastic(eye, mask)) == 0.0
    focused = torch.zeros(1, 4, 4)
    focused[..., 0] = 1.0  # all steps on location 0: (1-4)^2 + 3 * 1^2
    assert float(doubly_stochastic(focused, mask)) == pytest.approx(12.0)
    # padding steps do not count, whatever their weights
    padded = torch.cat([eye, focused], 1)
    assert float(doubly_stochastic(padded, torch.tensor([[True] * 4 + [False] * 4]))) == 0.0
    # its gradient pushes attention towards neglected locations
    uniform = torch.full((1, 2, 4), 0.25, requires_grad=True)
    doubly_stochastic(uniform, torch.ones(1, 2)).backward()
    assert (uniform.grad < 0).all()  # every location has < 1 in total: more weight lowers the term


def test_caption_cross_entropy_ignores_padding():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=gen)
    targets = torch.tensor([[4, 5, EOS, PAD, PAD], [6, 4, 4, 5, EOS]])
    changed = logits.clone()
    changed[0, 3:] = torch.randn(2, 7, generator=gen) * 10
    torch.testing.assert_close(caption_cross_entropy(logits, targets), caption_cross_entropy(changed, targets))
    perfect = torch.nn.functional.one_hot(targets, 7).float() * 30
    assert float(caption_cross_entropy(perfect, targets)) < 1e-6


# --- vocabulary -----------------------------------------------------------------------------------


def test_tokenize_lower_cases_and_splits_on_punctuation():
    assert tokenize("A dog's  ball, RED.\tTwo-tone") == ["a", "dog's", "ball", "red", "two", "tone"]
    assert normalize(" A Red  circle. ") == "a red circle"


def test_vocabulary_min_count_unk_and_round_trip():
    caps = ["a red circle", "a blue circle", "A red square", "a zebra"]
    v = Vocabulary.build(caps, min_count=2)
    assert v.words[:4] == list(SPECIALS)
    assert v.words[4:] == ["a", "circle", "red"]  # by count (4, 2, 2), ties alphabetical; rare words dropped
    ids = v.encode("A red zebra")
    assert ids == [BOS, v.index["a"], v.index["red"], UNK, EOS]
    assert v.decode(ids) == "a red <unk>"
    assert v.decode([BOS, v.index["red"], EOS, v.index["a"], PAD]) == "red"  # stops at <eos>
    assert v.decode(v.encode("a red circle")) == "a red circle"
    assert v.encode("a red circle red red", max_len=4) == [BOS, v.index["a"], v.index["red"], EOS]
    assert Vocabulary.build(caps, 1) != v and Vocabulary.build(list(reversed(caps)), 2) == v  # order-free
    assert len(Vocabulary.build(caps, 1)) == 4 + 6


def test_vocabulary_difference_names_the_words():
    a, b = Vocabulary.build(["a red circle"]), Vocabulary.build(["a red star"])
    msg = a.difference(b)
    assert "circle" in msg and "star" in msg
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", "b"])


# --- datamodule ----------------------------------------------------------------------------------

WORLD = WorldConfig(image_size=16, kinds=("circle", "square"), min_objects=1, max_objects=2,
                    scale_range=(0.4, 0.6), clutter=0, background="flat")


def _shapes_dm(**kw) -> CaptioningDataModule:
    return CaptioningDataModule(image_size=16, world=WORLD, train_size=16, val_size=8, batch_size=8, **kw)


def test_shapes_datamodule_batch_contract():
    dm = _shapes_dm()
    dm.setup("fit")
    images, tokens, refs = next(iter(dm.train_dataloader()))
    assert images.shape == (8, 3, 16, 16) and images.dtype == torch.float32
    assert tokens.dtype == torch.long and (tokens[:, 0] == BOS).all()
    assert ((tokens == EOS).sum(1) == 1).all()  # one <eos> per caption, <pad> after it
    assert len(refs) == 8 and all(len(r) == 5 for r in refs)
    assert all(dm.vocab.decode(t.tolist()) in r for t, r in zip(tokens, refs, strict=True))  # one of its own captions
    _vimages, vtokens, vrefs = next(iter(dm.val_dataloader()))
    assert all(dm.vocab.decode(t.tolist()) == r[0] for t, r in zip(vtokens, vrefs, strict=True))  # val: the first


def _module() -> CaptioningModule:
    return CaptioningModule(attention=True, encoder_width=4, encoder_stages=2, embed_dim=8, hidden_dim=12,
                            attention_dim=6, max_len=8)


def test_checkpoint_carries_the_vocabulary_and_refuses_another(tmp_path):
    L.seed_everything(0, verbose=False)
    dm, m = _shapes_dm(), _module()
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path, num_sanity_val_steps=0)
    trainer.fit(m, dm)
    assert set(trainer.callback_metrics) >= {"val/bleu1", "val/bleu4", "val/loss", "train/loss"}
    import wandb

    batch = next(iter(dm.val_dataloader()))
    media = m.eval().wandb_media(batch, None)  # one strip per image: the image + one panel per decoded word
    assert len(media["val/attention"]) == 4 and isinstance(media["val/attention"][0], wandb.Image)
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    # no data: the vocabulary comes from the file (weights_only=False: the datamodule's hyper-parameters
    # in a Lightning checkpoint include a WorldConfig dataclass)
    loaded = CaptioningModule.load_from_checkpoint(ckpt, weights_only=False)
    assert loaded.vocab == dm.vocab
    torch.testing.assert_close(loaded.net.out.weight, m.net.out.weight)
    # the same data evaluates fine; data whose vocabulary differs is refused with the difference named
    trainer2 = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, limit_val_batches=1)
    trainer2.validate(_module(), _shapes_dm(), ckpt_path=ckpt, verbose=False, weights_only=False)
    other = _shapes_dm(min_count=1000)  # every word becomes <unk>: only the specials are left
    with pytest.raises(ConfigError, match="vocabulary of the checkpoint differs from that of the data"):
        trainer2.validate(_module(), other, ckpt_path=ckpt, verbose=False, weights_only=False)


def test_module_loss_adds_the_attention_term_per_caption_word():
    vocab = Vocabulary.build(["a red circle", "a blue square"])
    plain, reg = _module(), _module()
    plain.hparams.doubly_stochastic = 0.0
    torch.manual_seed(0)
    plain.build(vocab)
    torch.manual_seed(0)
    reg.build(vocab)
    plain.eval(), reg.eval()
    images = torch.randn(2, 3, 16, 16)
    tokens = torch.tensor([vocab.encode("a red circle"), [BOS, vocab.index["a"], EOS, PAD, PAD]])
    _, alphas = reg.net(images, tokens[:, :-1])
    words = tokens[:, 1:] != PAD  # 4 and 2 predicted tokens: 3 per caption on average
    expected = float(plain._loss(images, tokens, "val")) + float(doubly_stochastic(alphas, words)) / 3
    assert float(reg._loss(images, tokens, "val")) == pytest.approx(expected, rel=1e-5)


def test_module_without_a_vocabulary_says_so():
    m = _module()
    with pytest.raises(ConfigError, match="no captioning vocabulary"):
        m.on_load_checkpoint({"state_dict": {}})


# --- sources on fixtures in their real formats ---------------------------------------------------


def _jpg(path: Path, w: int = 24, h: int = 20) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _coco(root: Path, split: str, anns: list[dict], ids=(139, 285)) -> None:
    for i in ids:
        _jpg(root / split / f"{i:012d}.jpg")
    data = {"info": {}, "licenses": [],
            "images": [{"id": i, "file_name": f"{i:012d}.jpg", "width": 24, "height": 20} for i in ids],
            "annotations": anns}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / f"captions_{split}.json").write_text(json.dumps(data))


COCO_ANNS = [{"id": 1, "image_id": 139, "caption": "A woman stands in the kitchen."},
             {"id": 2, "image_id": 139, "caption": "A person in a kitchen"},
             {"id": 3, "image_id": 285, "caption": "A big brown bear."}]


def test_coco_captions(tmp_path):
    _coco(tmp_path, "train2017", COCO_ANNS)
    ds = COCOCaptions(tmp_path, "train2017")
    assert len(ds) == 2
    image, caps = ds[0]
    assert image.shape == (3, 20, 24) and image.dtype == torch.uint8
    assert caps == ["A woman stands in the kitchen.", "A person in a kitchen"]


def test_coco_captions_bad_input(tmp_path):
    _coco(tmp_path, "train2017", [*COCO_ANNS, {"id": 9, "image_id": 285, "caption": "  . "}])
    with pytest.raises(DatasetError, match=r"captions_train2017\.json: annotation id 9 \(image id 285\): empty caption"):
        COCOCaptions(tmp_path, "train2017")
    _coco(tmp_path, "val2017", COCO_ANNS)
    (tmp_path / "val2017" / "000000000285.jpg").unlink()
    with pytest.raises(DatasetError, match=r"captions_val2017\.json: captions of image 000000000285\.jpg .*val2017/000000000285\.jpg is missing"):
        COCOCaptions(tmp_path, "val2017")


def _karpathy(root: Path) -> Path:
    _jpg(root / "val2014" / "COCO_val2014_000000000001.jpg")
    _jpg(root / "train2017" / "000000000002.jpg")  # 2017 layout: found by its COCO id
    entries = [
        {"filepath": "val2014", "filename": "COCO_val2014_000000000001.jpg", "cocoid": 1, "split": "restval",
         "sentences": [{"raw": "A cat on a mat.", "tokens": ["a", "cat", "on", "a", "mat"], "sentid": 0}]},
        {"filepath": "train2014", "filename": "COCO_train2014_000000000002.jpg", "cocoid": 2, "split": "train",
         "sentences": [{"raw": "Two dogs play.", "tokens": ["two", "dogs", "play"], "sentid": 1},
                       {"raw": "Dogs playing", "tokens": ["dogs", "playing"], "sentid": 2}]},
        {"filepath": "val2014", "filename": "COCO_val2014_000000000003.jpg", "cocoid": 3, "split": "test",
         "sentences": [{"raw": "", "tokens": [], "sentid": 3}]},
    ]
    path = root / "dataset_coco.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path


def test_karpathy_split_file(tmp_path):
    path = _karpathy(tmp_path)
    train = KarpathyCaptions(tmp_path, path, "train")  # train + restval
    assert [caps for _, caps in train.captions] == [["A cat on a mat."], ["Two dogs play.", "Dogs playing"]]
    assert train.captions[1][0] == tmp_path / "train2017" / "000000000002.jpg"
    assert train[1][0].shape == (3, 20, 24)
    with pytest.raises(DatasetError, match=r"dataset_coco\.json: image 'COCO_val2014_000000000003\.jpg' .*sentence id 3: empty caption"):
        KarpathyCaptions(tmp_path, path, "test")
    with pytest.raises(DatasetError, match="no images in split 'val'"):
        KarpathyCaptions(tmp_path, path, "val")


def _flickr8k(root: Path, lines: list[str]) -> None:
    for name in ("1000268201_693b08cb0e.jpg", "1001773457_577c3a7d70.jpg", "1002674143_1b742ab4b8.jpg"):
        _jpg(root / "Flicker8k_Dataset" / name)
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    (root / "Flickr_8k.trainImages.txt").write_text("1000268201_693b08cb0e.jpg\n1001773457_577c3a7d70.jpg\n")
    (root / "Flickr_8k.devImages.txt").write_text("1002674143_1b742ab4b8.jpg\n")
    (root / "Flickr_8k.testImages.txt").write_text("1002674143_1b742ab4b8.jpg\n")


FLICKR_LINES = ["1000268201_693b08cb0e.jpg#0\tA child in a pink dress is climbing up a set of stairs .",
                "1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .",
                "1001773457_577c3a7d70.jpg#0\tA black dog and a spotted dog are fighting",
                "1002674143_1b742ab4b8.jpg#0\tA little girl covered in paint sits in front of a zebra ."]


def test_flickr8k_token_and_split_files(tmp_path):
    _flickr8k(tmp_path, FLICKR_LINES)
    dm = CaptioningDataModule(source="flickr8k", root=str(tmp_path), image_size=16, batch_size=2, min_count=1)
    dm.setup("fit")
    assert "zebra" not in dm.vocab.index and "stairs" in dm.vocab.index  # vocabulary from TRAINING captions only
    images, tokens, _refs = next(iter(dm.train_dataloader()))
    assert images.shape == (2, 3, 16, 16) and tokens[:, 0].eq(BOS).all()
    _vimages, vtokens, vrefs = next(iter(dm.val_dataloader()))
    assert vrefs == [["a little girl covered in paint sits in front of a zebra"]]
    assert UNK in vtokens[0].tolist()  # the val-only word is <unk> for the loss, kept in the references


def test_flickr_bad_input(tmp_path):
    _flickr8k(tmp_path, [*FLICKR_LINES[:2], "1001773457_577c3a7d70.jpg#1\t  ", *FLICKR_LINES[2:]])
    token = tmp_path / "Flickr8k.token.txt"
    with pytest.raises(DatasetError, match=r"Flickr8k\.token\.txt:3 \(1001773457_577c3a7d70\.jpg#1\): empty caption"):
        FlickrCaptions(token, tmp_path / "Flicker8k_Dataset")
    token.write_text("1000268201_693b08cb0e.jpg A caption without a tab\n")
    with pytest.raises(DatasetError, match=r"Flickr8k\.token\.txt:1: expected 'image\.jpg#k<TAB>caption'"):
        FlickrCaptions(token, tmp_path / "Flicker8k_Dataset")
    token.write_text("\n".join(FLICKR_LINES) + "\n")
    (tmp_path / "Flicker8k_Dataset" / "1001773457_577c3a7d70.jpg").unlink()
    with pytest.raises(DatasetError, match=r"Flickr8k\.token\.txt: captions of image 1001773457_577c3a7d70\.jpg .* is missing"):
        FlickrCaptions(token, tmp_path / "Flicker8k_Dataset")


@pytest.mark.parametrize("source", ["coco", "flickr8k", "flickr30k"])
def test_absent_dataset_fails_fast_with_the_layout(tmp_path, source):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError, match="Expected the") as e:
        CaptioningDataModule.check_data(source, str(missing), karpathy_file=str(missing / "k.json"))
    assert str(missing) in str(e.value)
