"""A word-level tokenizer for C code, trained locally in a fraction of a second.

No hub download: the vocabulary comes from the workload's own training split, and the
pre-tokenizer splits identifiers, numbers, string literals and C operators.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa's ids 0..4
PAD_ID, CLS_ID, SEP_ID = 1, 0, 2

# string literals, identifiers, numbers, two-char operators, any other single symbol
C_TOKEN = Regex(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\d+|->|\+\+|--|==|!=|<=|>=|&&|\|\||<<|>>|\S')


def train_c_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> Tokenizer:
    tokenizer = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(C_TOKEN, behavior="isolated"),
            pre_tokenizers.Split(Regex(r"^\s+$"), behavior="removed"),  # drop whitespace pieces
        ]
    )
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, min_frequency=2)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def encode(tokenizer: Tokenizer, texts: list[str], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids framed as ``<s> ... </s>``, truncated to ``max_length``, padded with ``<pad>``."""
    ids, masks = [], []
    for enc in tokenizer.encode_batch(texts):
        body = [t for t in enc.ids][: max_length - 2]
        row = [CLS_ID, *body, SEP_ID]
        pad = max_length - len(row)
        ids.append(row + [PAD_ID] * pad)
        masks.append([1] * len(row) + [0] * pad)
    return ids, masks
