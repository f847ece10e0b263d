"""Text processing: a word-level tokenizer trained from scratch on the training split.

Nothing is downloaded: the vocabulary comes from the training dialogues only.
The dialogue delimiters ``[bom]`` / ``[eom]`` (begin/end of message) are
special tokens so they survive as single ids.

The vocabulary is counted here and ordered by (frequency desc, token) rather
than learned by the ``tokenizers`` WordPiece/BPE trainers: those break ties in
hash order, so two processes on the same data get different vocabularies, and
training must be reproducible for a seed. ``tokenizers`` still does the
normalisation, pre-tokenisation, padding and (fast, batched) encoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

PAD, UNK = "[PAD]", "[UNK]"
SPECIAL_TOKENS = [PAD, UNK, "[bom]", "[eom]"]
PAD_ID = 0


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, max_len: int, min_frequency: int = 2
) -> Tokenizer:
    """Train a lower-casing word-level tokenizer; it pads/truncates to ``max_len`` ids.

    Words seen at least ``min_frequency`` times, most frequent first, fill the
    vocabulary up to ``vocab_size`` ids (special tokens included); others map to [UNK].
    """
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre_tokenizer = pre_tokenizers.Whitespace()
    counts: Counter[str] = Counter()
    for text in texts:
        for word, _span in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            counts[word] += 1
    for token in SPECIAL_TOKENS:
        counts.pop(token, None)
    ranked = sorted(
        (w for w, c in counts.items() if c >= min_frequency), key=lambda w: (-counts[w], w)
    )
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *ranked][:vocab_size])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return configure(tokenizer, max_len)


def configure(tokenizer: Tokenizer, max_len: int) -> Tokenizer:
    """Fixed-length output: truncate and pad every text to ``max_len`` ids."""
    tokenizer.enable_truncation(max_length=max_len)
    tokenizer.enable_padding(length=max_len, pad_id=PAD_ID, pad_token=PAD)
    return tokenizer


def load_tokenizer(serialized: str, max_len: int) -> Tokenizer:
    """A tokenizer saved with ``tokenizer.to_str()``."""
    return configure(Tokenizer.from_str(serialized), max_len)


def encode(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    """Token ids, shape (len(texts), max_len), int64; ``PAD_ID`` after the text."""
    if not texts:
        width = tokenizer.padding["length"] if tokenizer.padding else 1
        return np.zeros((0, width), dtype=np.int64)
    return np.array([e.ids for e in tokenizer.encode_batch(texts)], dtype=np.int64)
