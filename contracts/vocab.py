"""The captioning vocabulary: built from the training captions, saved with the checkpoint.

Tokenisation is deliberately simple and the same everywhere (vocabulary, references for BLEU,
decoded hypotheses): lower case, runs of letters/digits (an apostrophe inside a word is kept:
``man's``), everything else is a separator. Ids 0-3 are the specials ``<pad> <bos> <eos>
<unk>``; the words follow by falling training count (ties alphabetically), so the same
captions and ``min_count`` always give the same ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """``"A dog's ball, RED."`` -> ``["a", "dog's", "ball", "red"]``."""
    return _WORD.findall(text.lower())


def normalize(text: str) -> str:
    """A caption as the space-joined tokens BLEU compares (``tokenize`` then join)."""
    return " ".join(tokenize(text))


class Vocabulary:
    """Word <-> id mapping with the four specials first.

    Args:
        words: every entry in id order, specials included (what ``words`` returns and a
            checkpoint stores).
    """

    def __init__(self, words: Sequence[str]) -> None:
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {tuple(words[:4])}")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary entries must be distinct")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Words seen at least ``min_count`` times in ``captions``; rarer ones become ``<unk>``."""
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    def __hash__(self) -> int:
        return hash(tuple(self.words))

    def encode(self, text: str, max_len: int | None = None) -> list[int]:
        """``<bos> w1 .. wn <eos>`` ids; words beyond ``max_len`` tokens in all are dropped."""
        ids = [self.index.get(w, UNK) for w in tokenize(text)]
        if max_len is not None:
            ids = ids[: max(0, max_len - 2)]
        return [BOS, *ids, EOS]

    def decode(self, ids: Iterable[int]) -> str:
        """Words up to the first ``<eos>``; ``<pad>``/``<bos>`` are skipped, ``<unk>`` is kept."""
        words = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                words.append(self.words[i])
        return " ".join(words)

    def difference(self, other: Vocabulary, shown: int = 5) -> str:
        """A short human description of how ``other`` differs from this one (for error messages)."""
        mine, theirs = set(self.words), set(other.words)
        parts = [f"{len(self)} vs {len(other)} entries"]
        if only := sorted(mine - theirs)[:shown]:
            parts.append(f"only in the first: {only}")
        if only := sorted(theirs - mine)[:shown]:
            parts.append(f"only in the second: {only}")
        if mine == theirs:
            moved = next(i for i, (a, b) in enumerate(zip(self.words, other.words, strict=True)) if a != b)
            parts.append(f"same words, different ids from id {moved} ({self.words[moved]!r} vs {other.words[moved]!r})")
        return "; ".join(parts)
