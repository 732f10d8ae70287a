"""Captioning nets and losses: decoder shapes, teacher forcing vs step-by-step, greedy and beam
search, the doubly stochastic attention term and the padded cross-entropy; the vocabulary."""

import numpy as np
import pytest
import torch

from datamodules.vocab import SPECIALS, UNK, Vocabulary, normalize, tokenize
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
