"""The devign workload: real RoBERTa, local tokenizer, cached seeded data, local pretrained dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.testing import TINY_DEVIGN, run_tiny, tiny_workload
from harness.workloads.devign import DevignWorkload, Params


def test_class_ratio_and_shapes() -> None:
    w = tiny_workload(n_train=500, vulnerable_share=0.458)
    labels = w.train_labels()
    assert labels.shape == (500,)
    assert int(labels.sum()) == round(500 * 0.458)
    train, val = w.datasets()
    assert len(train) == 500 and len(val) == TINY_DEVIGN["n_val"]


def test_data_is_cached_and_deterministic(tmp_path: Path) -> None:
    a = DevignWorkload(Params(**TINY_DEVIGN, cache_dir=str(tmp_path)))
    ids_a = a.datasets()[0].tensors[0]
    files = list((tmp_path / "devign").glob("*.pt"))
    assert len(files) == 1
    b = DevignWorkload(Params(**TINY_DEVIGN, cache_dir=str(tmp_path)))
    assert torch.equal(ids_a, b.datasets()[0].tensors[0])
    c = DevignWorkload(Params(**(TINY_DEVIGN | {"data_seed": 7}), cache_dir=str(tmp_path)))
    assert not torch.equal(ids_a, c.datasets()[0].tensors[0])


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    a = DevignWorkload(Params(**TINY_DEVIGN, cache_dir=str(tmp_path)))
    expected = a.datasets()[0].tensors[0]
    (cached,) = (tmp_path / "devign").glob("*.pt")
    cached.write_bytes(b"not a checkpoint")
    b = DevignWorkload(Params(**TINY_DEVIGN, cache_dir=str(tmp_path)))
    assert torch.equal(expected, b.datasets()[0].tensors[0])


def test_model_is_a_transformers_roberta_from_config() -> None:
    from transformers import RobertaForSequenceClassification

    model = tiny_workload().build_model()
    assert isinstance(model, RobertaForSequenceClassification)
    assert model.config.hidden_size == TINY_DEVIGN["hidden_size"]
    assert model.config.attention_probs_dropout_prob == 0.0


def test_collate_drops_all_pad_columns() -> None:
    w = tiny_workload(max_length=64)
    train, _ = w.datasets()
    batch = w.collate([train[i] for i in range(4)])
    width = batch["input_ids"].shape[1]
    assert width == int(batch["attention_mask"].sum(1).max())
    assert width <= 64


def test_local_pretrained_directory_loads_offline(tmp_path: Path) -> None:
    """A saved model + tokenizer directory works with `pretrained:` and no network."""
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    from harness.workloads.devign.corpus import generate_samples
    from harness.workloads.devign.tokenizer import train_c_tokenizer

    raw = train_c_tokenizer((s.code for s in generate_samples(200, seed=0)), vocab_size=400)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token="<mask>",
    )
    config = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=40,
        num_labels=2,
    )
    saved = RobertaForSequenceClassification(config)
    model_dir = tmp_path / "pretrained"
    saved.save_pretrained(model_dir)
    tok.save_pretrained(model_dir)

    w = tiny_workload(pretrained=str(model_dir), max_length=32, cache_dir=str(tmp_path / "cache"))
    loaded = w.build_model()
    for name, param in saved.state_dict().items():
        assert torch.equal(param, loaded.state_dict()[name]), name
    state, status, _ = run_tiny({}, workload=w, epochs=1)
    assert status == "ok" and state.history[0]["n"] == TINY_DEVIGN["n_val"]


def test_missing_pretrained_directory_fails_clearly(tmp_path: Path) -> None:
    w = tiny_workload(pretrained=str(tmp_path / "nope"), cache_dir=str(tmp_path))
    with pytest.raises(OSError):
        w.datasets()
