"""Workload ``devign``: the issue-11 vulnerability classifier at CPU scale.

A RoBERTa sequence classifier from ``transformers`` (built from a config with random
init, or loaded from a local pretrained directory with no network), a C tokenizer
trained locally, and synthetic C functions labelled vulnerable/safe with the
incident's class ratio (45.8% vulnerable). Data and tokenizer are generated from a
seed and cached on disk, so replays start in seconds.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PositiveInt

from harness.workloads.base import CachedTensorWorkload, WorkloadParams

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


#: RobertaConfig's name of each parameter that shapes the model built from a config
ROBERTA_CONFIG = {
    "hidden_size": "hidden_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "intermediate_size": "intermediate_size",
    "hidden_dropout_prob": "hidden_dropout",
    "attention_probs_dropout_prob": "attention_dropout",
    "num_labels": "num_labels",
}


class DevignWorkload(CachedTensorWorkload):
    """The issue-11 vulnerability classifier: a tiny RoBERTa on synthetic C functions (45.8% vulnerable)."""

    params: Params  # the validated workload.params (narrower than the base class's BaseModel)

    name = "devign"
    Params = Params
    item_tensors = ("input_ids", "attention_mask", "labels")

    # ------------------------------------------------------------ data

    def data_fields(self) -> dict[str, Any]:
        fields = ["n_train", "n_val", "vulnerable_share", "data_seed", "max_length", "vocab_size", "pretrained"]
        return {f: getattr(self.params, f) for f in fields}

    def data_sources(self) -> tuple[ModuleType, ...]:
        from harness.workloads.devign import corpus as c_corpus
        from harness.workloads.devign import tokenizer as c_tokenizer

        return (c_corpus, c_tokenizer)  # the generator's and the tokenizer's source

    def _build_data(self) -> dict[str, torch.Tensor]:
        import torch

        from harness.workloads.devign.corpus import generate_samples
        from harness.workloads.devign.tokenizer import encode, train_c_tokenizer

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

        def as_long(rows: list[Any]) -> torch.Tensor:
            return torch.tensor(rows, dtype=torch.long)

        return {
            "train_input_ids": as_long(t_ids),
            "train_attention_mask": as_long(t_mask),
            "train_labels": as_long([s.label for s in train]),
            "val_input_ids": as_long(v_ids),
            "val_attention_mask": as_long(v_mask),
            "val_labels": as_long([s.label for s in val]),
            "vocab_size": torch.tensor(vocab),
        }

    def collate(self, items: list[tuple[torch.Tensor, ...]]) -> dict[str, torch.Tensor]:
        import torch

        ids, mask, labels = (torch.stack(col) for col in zip(*items, strict=False))
        width = int(mask.sum(dim=1).max())  # dynamic padding: drop all-pad columns
        return {"input_ids": ids[:, :width], "attention_mask": mask[:, :width], "labels": labels}

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
            max_position_embeddings=p.max_length + 2,  # RoBERTa's positions start after the pad id
            pad_token_id=1,
            **{name: getattr(p, field) for name, field in ROBERTA_CONFIG.items()},
        )
        return RobertaForSequenceClassification(config)

    def forward(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
