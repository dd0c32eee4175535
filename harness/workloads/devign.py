"""Workload ``devign``: the issue-11 vulnerability classifier at CPU scale.

A RoBERTa sequence classifier from ``transformers`` (built from a config with random
init, or loaded from a local pretrained directory with no network), a C tokenizer
trained locally, and synthetic C functions labelled vulnerable/safe with the
incident's class ratio (45.8% vulnerable). Data and tokenizer are generated from a
seed and cached on disk, so replays start in seconds.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt

from harness.workloads.base import Workload, WorkloadParams, cache_root, cached_tensors

if TYPE_CHECKING:  # torch is imported where it is used, so listing workloads stays light
    import torch


class Params(WorkloadParams):
    n_train: PositiveInt = Field(2500, description="training functions")
    n_val: PositiveInt = Field(600, description="validation functions")
    vulnerable_share: float = Field(0.458, gt=0, lt=1, description="share of label 1 (issue 11: 0.458)")
    data_seed: int = Field(0, description="seed of the data set (runs' seeds vary init and order only)")
    max_length: PositiveInt = Field(128, ge=8, le=512, description="tokens per function")
    vocab_size: PositiveInt = Field(2000, ge=16, description="tokenizer vocabulary cap")
    hidden_size: PositiveInt = 64
    num_layers: PositiveInt = 2
    num_heads: PositiveInt = 4
    intermediate_size: PositiveInt = 128
    hidden_dropout: float = Field(0.1, ge=0, lt=1)
    attention_dropout: float = Field(0.0, ge=0, lt=1, description="0 nearly halves CPU step time")
    pretrained: str | None = Field(None, description="local directory of a pretrained RoBERTa-family model")
    cache_dir: str | None = Field(None, description="data cache (default $HARNESS_CACHE or ~/.cache/harness)")
    eval_batch_size: PositiveInt = 256
    num_labels: Literal[2] = 2


class DevignWorkload(Workload):
    """The issue-11 vulnerability classifier: a tiny RoBERTa on synthetic C functions (45.8% vulnerable)."""

    name = "devign"
    Params = Params

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self._data: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------ data

    def _cache_key(self) -> str:
        from harness.workloads import c_corpus, c_tokenizer

        p = self.params
        fields = ["n_train", "n_val", "vulnerable_share", "data_seed", "max_length", "vocab_size", "pretrained"]
        # the generator's and tokenizer's own source are part of the key: editing them
        # invalidates cached data instead of silently reusing stale samples
        sources = [Path(m.__file__).read_bytes() for m in (c_corpus, c_tokenizer)]
        code = hashlib.sha256(b"".join(sources)).hexdigest()[:12]
        blob = json.dumps({f: getattr(p, f) for f in fields} | {"format": 1, "code": code}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _load_data(self) -> dict[str, torch.Tensor]:
        if self._data is None:
            path = cache_root(self.params.cache_dir) / "devign" / f"{self._cache_key()}.pt"
            self._data = cached_tensors(path, self._build_data)
        return self._data

    def _build_data(self) -> dict[str, torch.Tensor]:
        import torch

        from harness.workloads.c_corpus import generate_samples
        from harness.workloads.c_tokenizer import encode, train_c_tokenizer

        p = self.params
        train = generate_samples(p.n_train, p.vulnerable_share, seed=p.data_seed)
        val = generate_samples(p.n_val, p.vulnerable_share, seed=p.data_seed + 1_000_003)
        if p.pretrained:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(p.pretrained, local_files_only=True)
            enc_t = tok([s.code for s in train], truncation=True, max_length=p.max_length, padding="max_length")
            enc_v = tok([s.code for s in val], truncation=True, max_length=p.max_length, padding="max_length")
            t_ids, t_mask = enc_t["input_ids"], enc_t["attention_mask"]
            v_ids, v_mask = enc_v["input_ids"], enc_v["attention_mask"]
            vocab = len(tok)
        else:
            tok = train_c_tokenizer((s.code for s in train), vocab_size=p.vocab_size)
            t_ids, t_mask = encode(tok, [s.code for s in train], p.max_length)
            v_ids, v_mask = encode(tok, [s.code for s in val], p.max_length)
            vocab = tok.get_vocab_size()
        as_long = lambda rows: torch.tensor(rows, dtype=torch.long)  # noqa: E731
        return {
            "train_input_ids": as_long(t_ids),
            "train_attention_mask": as_long(t_mask),
            "train_labels": as_long([s.label for s in train]),
            "val_input_ids": as_long(v_ids),
            "val_attention_mask": as_long(v_mask),
            "val_labels": as_long([s.label for s in val]),
            "vocab_size": torch.tensor(vocab),
        }

    def datasets(self) -> tuple[Any, Any]:
        from torch.utils.data import TensorDataset

        d = self._load_data()
        train = TensorDataset(d["train_input_ids"], d["train_attention_mask"], d["train_labels"])
        val = TensorDataset(d["val_input_ids"], d["val_attention_mask"], d["val_labels"])
        return train, val

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        import torch

        ids, mask, labels = (torch.stack(col) for col in zip(*items))
        width = int(mask.sum(dim=1).max())  # dynamic padding: drop all-pad columns
        return {"input_ids": ids[:, :width], "attention_mask": mask[:, :width], "labels": labels}

    def train_labels(self) -> torch.Tensor:
        return self._load_data()["train_labels"]

    def prepare(self) -> None:
        super().prepare()
        import transformers.models.roberta.modeling_roberta  # noqa: F401  (seconds to import)
        from transformers import get_linear_schedule_with_warmup  # noqa: F401

    # ------------------------------------------------------------ model

    def build_model(self) -> torch.nn.Module:
        from transformers import RobertaConfig, RobertaForSequenceClassification

        p = self.params
        if p.pretrained:
            from transformers import AutoModelForSequenceClassification

            return AutoModelForSequenceClassification.from_pretrained(
                p.pretrained, num_labels=p.num_labels, local_files_only=True
            )
        config = RobertaConfig(
            vocab_size=int(self._load_data()["vocab_size"]),
            hidden_size=p.hidden_size,
            num_hidden_layers=p.num_layers,
            num_attention_heads=p.num_heads,
            intermediate_size=p.intermediate_size,
            hidden_dropout_prob=p.hidden_dropout,
            attention_probs_dropout_prob=p.attention_dropout,
            max_position_embeddings=p.max_length + 2,
            num_labels=p.num_labels,
            pad_token_id=1,
        )
        return RobertaForSequenceClassification(config)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
