"""Workload ``text_classification``: any text classifier on your own local files, no code.

A scenario names a training file and a validation file (CSV, TSV, JSON Lines or
Parquet, chosen by the extension), or only a training file that is split with a seed::

    workload:
      name: text_classification
      params:
        train_file: data/train.csv        # relative paths: from the working directory
        validation_file: data/val.jsonl   # or leave it out: val_share of train_file, split_seed
        text_column: text
        label_column: label               # any values: mapped to 0..K-1 in sorted order
        model_type: bert                  # built from a config, random init ...
        # pretrained: /models/my-bert     # ... or a local pretrained directory (no network)

Files are read with the ``datasets`` library (``pip install 'training-harness[data]'``), offline
(``HF_DATASETS_OFFLINE=1``), and cached under ``cache_dir``. Labels of any value (strings,
integers, booleans) are mapped to class ids ``0..K-1`` in sorted order, with ``K`` the
number of distinct training labels; a validation label never seen in training is an
error.

The model is a ``transformers`` sequence classifier, in one of two ways:

- ``model_type`` (``bert``, ``roberta``, ``distilbert``, or another type whose config takes
  the usual names), built from a config with random init, with a WordPiece (or BPE)
  tokenizer built from the training texts in well under a second (deterministically:
  the same files give the same token ids);
- ``pretrained``: a local directory holding a model and its tokenizer
  (``save_pretrained``), loaded with ``local_files_only=True``; its classification head is
  re-initialised where ``K`` differs from the saved one.

Texts are tokenised once per workload instance (the executor forks workers after
:meth:`prepare`, so they share it); batches are padded dynamically.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from harness.workloads.base import TensorDataWorkload, WorkloadParams, cache_root
from harness.workloads.text_files import DataFileError, class_values, file_format, labels_of, read_table, texts_of
from harness.workloads.text_tokenizer import CLS_ID, PAD_ID, SEP_ID, encode, train_tokenizer

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    import torch


# model types whose position ids start after the padding index (RoBERTa's embeddings)
PADDING_OFFSET_POSITIONS = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "roberta-prelayernorm",
    "longformer",
    "xmod",
    "data2vec-text",
    "ibert",
    "mpnet",
}

# parameters that shape a model built from a config; they mean nothing with `pretrained`
CONFIG_ONLY = (
    "model_type",
    "tokenizer",
    "vocab_size",
    "lowercase",
    "hidden_size",
    "num_layers",
    "num_heads",
    "intermediate_size",
    "hidden_dropout",
    "attention_dropout",
)


class Params(WorkloadParams):
    train_file: str = Field(
        description="training data: a .csv, .tsv, .json/.jsonl or .parquet file (relative to the working directory)"
    )
    validation_file: str | None = Field(
        None, description="validation data, same formats; default: val_share of train_file, split by split_seed"
    )
    val_share: float = Field(
        0.2, gt=0, lt=1, description="share of train_file held out for validation (only without validation_file)"
    )
    split_seed: int = Field(0, description="seed of the train/validation split (only without validation_file)")
    text_column: str = Field("text", description="the column holding the texts")
    label_column: str = Field(
        "label", description="the column holding the labels; any values, mapped to 0..K-1 in sorted order"
    )
    max_length: PositiveInt = Field(128, ge=4, le=8192, description="tokens per text (longer texts are truncated)")
    pretrained: str | None = Field(
        None, description="local directory of a pretrained model and tokenizer (save_pretrained); no network"
    )
    model_type: str = Field(
        "bert", description="transformers model type built from a config (bert, roberta, distilbert, ...)"
    )
    tokenizer: Literal["wordpiece", "bpe"] = Field(
        "wordpiece",
        description="tokenizer built from the training texts: wordpiece (frequent words + characters) or bpe"
        " (learned merges); model from a config only",
    )
    vocab_size: PositiveInt = Field(2000, ge=16, description="tokenizer vocabulary cap (model from a config only)")
    lowercase: bool = Field(True, description="lowercase texts before tokenising (model from a config only)")
    hidden_size: PositiveInt = Field(64, description="hidden size (model from a config only)")
    num_layers: PositiveInt = Field(2, description="transformer layers (model from a config only)")
    num_heads: PositiveInt = Field(4, description="attention heads; must divide hidden_size (model from a config only)")
    intermediate_size: PositiveInt = Field(128, description="feed-forward size (model from a config only)")
    hidden_dropout: float = Field(0.1, ge=0, lt=1, description="dropout of hidden states (model from a config only)")
    attention_dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout of attention probabilities; 0 is faster on CPU (model from a config only)"
    )
    cache_dir: str | None = Field(
        None, description="cache of the parsed files (default $HARNESS_CACHE or ~/.cache/harness, under datasets/)"
    )
    eval_batch_size: PositiveInt = Field(256, description="validation batch size")

    @field_validator("train_file", "validation_file")
    @classmethod
    def _known_extension(cls, value: str | None) -> str | None:
        if value is not None:
            file_format(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        given = self.model_fields_set
        if self.validation_file is not None:
            for name in ("val_share", "split_seed"):
                if name in given:
                    raise ValueError(f"{name} splits train_file and applies only without validation_file")
        if self.pretrained is not None:
            clash = [name for name in CONFIG_ONLY if name in given]
            if clash:
                raise ValueError(
                    f"{', '.join(clash)} shape a model built from a config and apply only without pretrained"
                )
        elif self.hidden_size % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        return self


# ------------------------------------------------------------------ helpers


def _position_limit(config: Any) -> int | None:
    """How many tokens a model's position embeddings hold (RoBERTa's start after the pad id)."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int):
        return None
    if getattr(config, "model_type", None) in PADDING_OFFSET_POSITIONS:
        positions -= (config.pad_token_id if config.pad_token_id is not None else 1) + 1
    return positions


@dataclass
class Encoded:
    """Both splits tokenised: ``(ids, attention masks)`` each, with the tokenizer that made them."""

    tokenizer: Any
    train: tuple[list[list[int]], list[list[int]]]
    val: tuple[list[list[int]], list[list[int]]]
    vocab_size: int
    pad_id: int | None


# ------------------------------------------------------------------ the workload


class TextClassificationWorkload(TensorDataWorkload):
    """Text classification on local CSV/JSON Lines/Parquet files with a ``transformers`` model."""

    params: Params  # the validated workload.params (narrower than the base class's BaseModel)

    name = "text_classification"
    Params = Params
    item_tensors = ("input_ids", "attention_mask", "labels")

    # ------------------------------------------------------------ data

    @property
    def classes(self) -> list[Any]:
        """The label values in class order: class ``i`` is ``classes[i]``."""
        classes: list[Any] = self._load_data()["classes"]
        return classes

    @property
    def num_labels(self) -> int:
        return len(self.classes)

    def _read_splits(self) -> tuple[list[str], list[Any], list[str], list[Any]]:
        p = self.params
        cache = cache_root(p.cache_dir) / "datasets"
        columns = {"text_column": p.text_column, "label_column": p.label_column}
        train = read_table(p.train_file, "train_file", columns, cache)
        texts = texts_of(train[p.text_column], "train_file", p.text_column)
        labels = labels_of(train[p.label_column], "train_file", p.label_column)
        if p.validation_file is not None:
            val = read_table(p.validation_file, "validation_file", columns, cache)
            val_texts = texts_of(val[p.text_column], "validation_file", p.text_column)
            return texts, labels, val_texts, val[p.label_column]
        import torch

        n = len(texts)
        n_val = round(n * p.val_share)
        if n_val < 1 or n_val >= n:
            raise DataFileError(
                f"val_share: {p.val_share} of {n} rows of train_file leaves {n - n_val} for training and {n_val} "
                "for validation; both need rows (or set validation_file)"
            )
        order = torch.randperm(n, generator=torch.Generator().manual_seed(p.split_seed)).tolist()
        val_rows, train_rows = sorted(order[:n_val]), sorted(order[n_val:])
        return (
            [texts[i] for i in train_rows],
            [labels[i] for i in train_rows],
            [texts[i] for i in val_rows],
            [labels[i] for i in val_rows],
        )

    def _build_data(self) -> dict[str, Any]:
        import torch

        p = self.params
        texts, labels, val_texts, val_labels = self._read_splits()
        classes = class_values(labels, p.label_column)
        index = {value: i for i, value in enumerate(classes)}
        self._check_validation_labels(val_labels, index, classes)
        encoded = self._encode(texts, val_texts)

        def as_tensor(rows: list[list[int]], dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(rows, dtype=dtype).reshape(len(rows), p.max_length)

        (t_ids, t_mask), (v_ids, v_mask) = encoded.train, encoded.val
        return {
            "train_input_ids": as_tensor(t_ids, torch.int32),  # int32/int8 halve memory; collate widens
            "train_attention_mask": as_tensor(t_mask, torch.int8),
            "train_labels": torch.tensor([index[v] for v in labels], dtype=torch.long),
            "val_input_ids": as_tensor(v_ids, torch.int32),
            "val_attention_mask": as_tensor(v_mask, torch.int8),
            "val_labels": torch.tensor([index[v] for v in val_labels], dtype=torch.long),
            "classes": classes,
            "vocab_size": encoded.vocab_size,
            "pad_token_id": encoded.pad_id,
            "tokenizer": encoded.tokenizer,
        }

    def _check_validation_labels(self, val_labels: list[Any], index: dict[Any, int], classes: list[Any]) -> None:
        """Every validation label is one seen in training (a class the model has)."""
        p = self.params
        val_field = "validation_file" if p.validation_file is not None else "the val_share split of train_file"
        try:
            unseen = sorted({v for v in labels_of(val_labels, val_field, p.label_column) if v not in index}, key=repr)
        except TypeError as exc:  # unhashable validation labels
            raise DataFileError(f"label_column: the {p.label_column!r} values of {val_field}: {exc}") from None
        if unseen:
            raise DataFileError(
                f"label_column: {val_field} has labels never seen in training: {unseen[:5]!r}"
                f" (training labels: {classes[:10]!r}{', ...' if len(classes) > 10 else ''})"
            )

    def _encode(self, texts: list[str], val_texts: list[str]) -> Encoded:
        """Both splits tokenised: by the pretrained model's tokenizer, or one built from the training texts."""
        p = self.params
        if p.pretrained:
            tok = self._pretrained_tokenizer()
            kwargs = {"truncation": True, "max_length": p.max_length, "padding": "max_length"}
            enc_t, enc_v = tok(texts, **kwargs), tok(val_texts, **kwargs)
            train = (enc_t["input_ids"], enc_t["attention_mask"])
            return Encoded(tok, train, (enc_v["input_ids"], enc_v["attention_mask"]), len(tok), tok.pad_token_id)
        tok = train_tokenizer(texts, p.tokenizer, p.vocab_size, p.lowercase)
        train = encode(tok, texts, p.max_length)
        return Encoded(tok, train, encode(tok, val_texts, p.max_length), tok.get_vocab_size(), PAD_ID)

    def _pretrained_tokenizer(self) -> Any:
        """The tokenizer saved with the pretrained model, with a pad token, checked against its positions."""
        from transformers import AutoConfig, AutoTokenizer

        p = self.params
        config = AutoConfig.from_pretrained(p.pretrained, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(p.pretrained, local_files_only=True)
        if tok.pad_token is None:  # e.g. GPT-2: pad with an existing token, the mask hides it
            fallback = tok.eos_token or tok.unk_token
            if fallback is None:
                raise DataFileError(f"pretrained: the tokenizer in {p.pretrained!r} has no pad, eos or unk token")
            tok.pad_token = fallback
        limits = [n for n in (_position_limit(config), tok.model_max_length) if isinstance(n, int)]
        if limits and p.max_length > min(limits):
            raise DataFileError(
                f"max_length: {p.max_length} is more tokens than the model in {p.pretrained!r} takes"
                f" ({min(limits)}); set max_length <= {min(limits)}"
            )
        return tok

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        import torch

        ids, mask, labels = (torch.stack(col) for col in zip(*items, strict=False))
        keep = mask.bool().any(dim=0)  # dynamic padding: drop all-pad columns (left or right padded)
        if not bool(keep.all()):
            ids, mask = ids[:, keep], mask[:, keep]
        return {"input_ids": ids.long(), "attention_mask": mask.long(), "labels": labels}

    def prepare(self) -> None:
        super().prepare()
        import importlib

        import transformers

        transformers.AutoModelForSequenceClassification  # noqa: B018  (resolves the lazy import)
        if not self.params.pretrained:  # the model's own module takes seconds to import
            module = self.params.model_type.replace("-", "_")
            with contextlib.suppress(ImportError):
                importlib.import_module(f"transformers.models.{module}.modeling_{module}")

    # ------------------------------------------------------------ model

    def build_model(self) -> torch.nn.Module:
        from transformers import AutoConfig, AutoModelForSequenceClassification

        p = self.params
        d = self._load_data()
        id2label = {i: str(v) for i, v in enumerate(d["classes"])}
        labels: dict[str, Any] = {"num_labels": len(d["classes"]), "id2label": id2label}
        labels["label2id"] = {name: i for i, name in id2label.items()}
        if p.pretrained:
            model = AutoModelForSequenceClassification.from_pretrained(
                p.pretrained, local_files_only=True, ignore_mismatched_sizes=True, **labels
            )
            if model.config.pad_token_id is None:  # GPT-2-style heads find the last token by the pad id
                model.config.pad_token_id = d["pad_token_id"]
            return model
        try:
            config = AutoConfig.for_model(
                p.model_type,
                vocab_size=d["vocab_size"],
                hidden_size=p.hidden_size,
                num_hidden_layers=p.num_layers,
                num_attention_heads=p.num_heads,
                intermediate_size=p.intermediate_size,
                max_position_embeddings=p.max_length + 2,  # RoBERTa's positions start after the pad id
                pad_token_id=PAD_ID,
                bos_token_id=CLS_ID,
                eos_token_id=SEP_ID,
                **labels,
            )
        except (ValueError, KeyError) as exc:
            raise ValueError(f"model_type: {p.model_type!r} is not a transformers model type ({exc})") from None
        # the same settings under each family's own names (DistilBERT's hidden_dim, GPT-2's n_inner, ...)
        for names, value in (
            (("hidden_dim", "n_inner", "ffn_dim"), p.intermediate_size),
            (("hidden_dropout_prob", "dropout", "resid_pdrop", "embd_pdrop", "hidden_dropout"), p.hidden_dropout),
            (("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop"), p.attention_dropout),
        ):
            for name in names:
                if hasattr(config, name):
                    setattr(config, name, value)
        try:
            return AutoModelForSequenceClassification.from_config(config)
        except ValueError as exc:
            raise ValueError(f"model_type: {p.model_type!r} has no sequence classification model ({exc})") from None

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
