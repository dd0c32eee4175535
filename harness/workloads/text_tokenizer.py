"""Training a small tokenizer on the data set's own texts (offline: no hub) and encoding texts with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    pass

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))


def train_tokenizer(texts: list[str], kind: str = "wordpiece", vocab_size: int = 2000, lowercase: bool = True) -> Any:
    """A ``tokenizers.Tokenizer`` for ``texts``: ``[CLS] ... [SEP]``, :data:`SPECIAL_TOKENS` at ids 0..4.

    Both kinds are deterministic (same texts, same ids), which seeded replays need:

    - ``wordpiece``: the most frequent words (count, then alphabetical order) plus every
      character, word-initial and ``##``-continuation, so a rare word is spelled out
      rather than ``[UNK]``. (``tokenizers``' own WordPiece trainer breaks ties between
      merges differently from run to run, so the vocabulary is counted here.)
    - ``bpe``: byte-pair merges learned by ``tokenizers``' ``BpeTrainer``.
    """
    from collections import Counter

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    special = list(SPECIAL_TOKENS)
    normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if kind == "wordpiece":
        words: Counter[str] = Counter()
        for text in texts:
            words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
        chars: Counter[str] = Counter()
        for word, count in words.items():
            for c in word:
                chars[c] += count
        room = max(vocab_size - len(special), 2)
        alphabet = sorted(_most_common(chars)[: room // 2])  # a huge alphabet (CJK): its most frequent half
        pieces = alphabet + ["##" + c for c in alphabet]
        whole = [w for w in _most_common(words) if len(w) > 1][: max(room - len(pieces), 0)]
        vocab = {token: i for i, token in enumerate(special + pieces + whole)}
        tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    else:
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special, show_progress=False)
        tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", CLS_ID), ("[SEP]", SEP_ID)]
    )
    return tok


def _most_common(counts: Any) -> list[str]:
    """The keys of a ``Counter`` by count, ties in alphabetical order (``most_common`` keeps insertion order)."""
    return sorted(counts, key=lambda key: (-counts[key], key))


def encode(tokenizer: Any, texts: list[str], max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Ids and attention masks of ``texts`` with a tokenizer of :func:`train_tokenizer`, padded to ``max_length``."""
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=PAD_ID, pad_token="[PAD]", length=max_length)
    encodings = tokenizer.encode_batch(texts)
    return [e.ids for e in encodings], [e.attention_mask for e in encodings]
