"""The text_classification workload: local CSV/JSONL/Parquet files, labels of any value,
a transformers model from a config or a local pretrained directory, all offline."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from harness.testing import train_tiny
from harness.workloads.text_classification import Params, TextClassificationWorkload
from harness.workloads.text_files import DataFileError
from harness.workloads.text_tokenizer import train_tokenizer

pytest.importorskip("datasets")

TINY_MODEL: dict[str, Any] = {
    "hidden_size": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 64,
    "max_length": 24,
    "vocab_size": 200,
    "eval_batch_size": 64,
}
ANIMALS = ("cat", "dog", "fish")
FILLER = [
    "the",
    "a",
    "small",
    "big",
    "red",
    "green",
    "old",
    "new",
    "house",
    "tree",
    "river",
    "road",
    "cloud",
    "stone",
    "quiet",
    "loud",
]


def keyword_rows(n: int, seed: int, keywords: tuple[str, ...] = ANIMALS) -> list[dict[str, Any]]:
    """Texts of filler words and one keyword, which decides the label (the keyword itself)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(keywords)
        words = [rng.choice(FILLER) for _ in range(rng.randint(4, 12))]
        words.insert(rng.randrange(len(words) + 1), label)
        rows.append({"text": " ".join(words).capitalize() + ".", "label": label})
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def workload(**params: Any) -> TextClassificationWorkload:
    return TextClassificationWorkload(Params(**params))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return (
        write_csv(tmp_path / "train.csv", keyword_rows(90, seed=0)),
        write_jsonl(tmp_path / "val.jsonl", keyword_rows(30, seed=1)),
    )


# ------------------------------------------------------------------ (a) files and a model from a config


def test_csv_and_jsonl_with_string_labels_build_a_model_from_a_config(files: tuple[Path, Path]) -> None:
    from transformers import BertForSequenceClassification

    train_file, val_file = files
    w = workload(train_file=str(train_file), validation_file=str(val_file), **TINY_MODEL)
    assert w.classes == ["cat", "dog", "fish"] and w.num_labels == 3  # inferred, sorted
    train, val = w.datasets()
    assert len(train) == 90 and len(val) == 30
    expected = [ANIMALS.index(row["label"]) for row in keyword_rows(90, seed=0)]
    assert w.train_labels().tolist() == expected

    model = w.build_model()
    assert isinstance(model, BertForSequenceClassification)
    assert model.config.num_labels == 3 and model.config.hidden_size == 32
    assert model.config.id2label == {0: "cat", 1: "dog", 2: "fish"}
    batch = w.collate([train[i] for i in range(8)])
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    width = batch["input_ids"].shape[1]
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (8, width)
    assert width == int(batch["attention_mask"].sum(1).max()) < TINY_MODEL["max_length"]  # dynamic padding
    assert batch["input_ids"].dtype == batch["labels"].dtype == torch.long
    assert w.forward(model, batch).shape == (8, 3)


@pytest.mark.parametrize("model_type", ["roberta", "distilbert"])
def test_other_model_types_forward(files: tuple[Path, Path], model_type: str) -> None:
    train_file, val_file = files
    w = workload(train_file=str(train_file), validation_file=str(val_file), model_type=model_type, **TINY_MODEL)
    model = w.build_model()
    assert model.config.model_type == model_type
    if model_type == "roberta":  # positions start after the pad id: max_length + 2 rows
        assert model.config.max_position_embeddings >= TINY_MODEL["max_length"] + 2
        assert model.config.pad_token_id == 0
    else:
        assert model.config.hidden_dim == TINY_MODEL["intermediate_size"]
    train, _ = w.datasets()
    long_batch = w.collate([train[i] for i in range(len(train))])
    assert w.forward(model, long_batch).shape == (len(train), 3)


def test_one_file_with_a_seeded_split_and_parquet_and_tsv(tmp_path: Path) -> None:
    import pandas as pd

    rows = [{"sentence": r["text"], "y": ANIMALS.index(r["label"]) * 10} for r in keyword_rows(50, seed=2)]
    pd.DataFrame(rows).to_parquet(tmp_path / "all.parquet")
    pd.DataFrame(rows).to_csv(tmp_path / "all.tsv", sep="\t", index=False)
    split = dict(text_column="sentence", label_column="y", val_share=0.2, **TINY_MODEL)
    a = workload(train_file=str(tmp_path / "all.parquet"), split_seed=3, **split)
    b = workload(train_file=str(tmp_path / "all.tsv"), split_seed=3, **split)
    c = workload(train_file=str(tmp_path / "all.parquet"), split_seed=4, **split)
    assert a.classes == [0, 10, 20]  # integer labels, mapped to 0..2 in sorted order
    (ta, va), (tb, vb), (tc, _) = a.datasets(), b.datasets(), c.datasets()
    assert (len(ta), len(va)) == (40, 10)
    assert torch.equal(ta.tensors[0], tb.tensors[0]) and torch.equal(va.tensors[2], vb.tensors[2])
    assert not torch.equal(ta.tensors[2], tc.tensors[2])  # another seed, another split


def test_long_texts_are_truncated_and_tokenizer_is_deterministic(tmp_path: Path) -> None:
    rows = keyword_rows(40, seed=5)
    rows[0]["text"] = " ".join(["cat"] * 100)
    train_file = write_csv(tmp_path / "t.csv", rows)
    w = workload(train_file=str(train_file), **(TINY_MODEL | {"max_length": 12}))
    train, _ = w.datasets()
    first = train.tensors[0][0].tolist()
    assert len(first) == 12 and first[0] == 2 and first[-1] == 3  # [CLS] ... [SEP], cut to max_length
    again = workload(train_file=str(train_file), **(TINY_MODEL | {"max_length": 12}))
    assert torch.equal(train.tensors[0], again.datasets()[0].tensors[0])
    texts = [r["text"] for r in rows]
    for kind in ("wordpiece", "bpe"):  # tokenizers' own WordPiece trainer numbers its vocab at random
        for size in (40, 60, 2000):
            vocabs = {json.dumps(sorted(train_tokenizer(texts, kind, size).get_vocab().items())) for _ in range(5)}
            assert len(vocabs) == 1, (kind, size)
    wordpiece = train_tokenizer(texts, "wordpiece", 2000)
    # frequent words whole, others spelled out, a word with an unseen character [UNK]
    tokens = wordpiece.encode("Cat reed zebra").tokens
    assert tokens == ["[CLS]", "cat", "r", "##e", "##e", "##d", "[UNK]", "[SEP]"]


# ------------------------------------------------------------------ (b) a local pretrained directory


def test_local_pretrained_directory_trains_offline(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    train_file, val_file = files
    texts = [r["text"] for r in keyword_rows(90, seed=0)]
    tok = PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(texts, vocab_size=200),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=2,
    )  # K differs: 2 saved, 3 here
    model_dir = tmp_path / "pretrained"
    BertForSequenceClassification(config).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)

    w = workload(
        train_file=str(train_file),
        validation_file=str(val_file),
        pretrained=str(model_dir),
        max_length=24,
        eval_batch_size=64,
    )
    model = w.build_model()
    assert isinstance(model, BertForSequenceClassification) and model.config.num_labels == 3
    assert model.classifier.out_features == 3

    run = train_tiny(workload=w, epochs=1, lr=1e-3, batch_size=16)
    assert run.status == "ok", run.status
    (record,) = run.history
    for name in ("accuracy", "macro_f1", "f1", "val_loss", "pred_count_0", "pred_count_1", "pred_count_2"):
        assert name in record, sorted(record)
    assert sum(record[f"pred_count_{k}"] for k in range(3)) == 30


def test_pretrained_max_length_beyond_its_positions_is_an_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

    train_file, _ = files
    tok = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(["a b c"] * 4, vocab_size=50), pad_token="[PAD]")
    config = RobertaConfig(
        vocab_size=len(tok),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=34,
        pad_token_id=1,
    )
    RobertaForSequenceClassification(config).save_pretrained(tmp_path / "rb")
    tok.save_pretrained(tmp_path / "rb")
    with pytest.raises(DataFileError, match=r"max_length: 64 .*max_length <= 32"):
        workload(train_file=str(train_file), pretrained=str(tmp_path / "rb"), max_length=64).datasets()


# ------------------------------------------------------------------ (c) it learns


def test_keyword_task_is_learned_from_a_config(tmp_path: Path) -> None:
    rows = keyword_rows(300, seed=7, keywords=("alpha", "beta", "gamma"))
    train_file = write_csv(tmp_path / "kw.csv", rows)
    small = TINY_MODEL | {"max_length": 20, "hidden_size": 64, "num_heads": 4, "intermediate_size": 128}
    w = workload(train_file=str(train_file), val_share=0.2, **small)
    assert w.classes == ["alpha", "beta", "gamma"] and len(w.datasets()[1]) == 60
    run = train_tiny(workload=w, epochs=8, lr=1e-3, batch_size=16, warmup_ratio=0.0)  # ~1 s
    assert run.status == "ok", run.status
    assert run.metric("accuracy")[-1] > 0.9, run.metric("accuracy")


# ------------------------------------------------------------------ (d) clear errors


def test_a_missing_column_names_the_field(files: tuple[Path, Path]) -> None:
    train_file, val_file = files
    with pytest.raises(DataFileError, match=r"label_column: train_file .* has no column 'target'.*'text', 'label'"):
        workload(train_file=str(train_file), label_column="target").datasets()
    with pytest.raises(
        DataFileError, match=r"text_column: validation_file .* has no column 'text'; its columns: 'body', 'label'"
    ):
        write_jsonl(val_file, [{"body": "x", "label": "cat"}])
        workload(train_file=str(train_file), validation_file=str(val_file), text_column="text").datasets()


def test_an_unknown_extension_or_missing_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"train_file\n.*unknown extension '\.txt'.*\.csv"):
        Params(train_file="data/train.txt")
    with pytest.raises(ValidationError, match=r"validation_file\n.*unknown extension '\(none\)'"):
        Params(train_file="a.csv", validation_file="val")
    with pytest.raises(DataFileError, match=r"train_file: no such file 'nowhere\.csv'"):
        workload(train_file="nowhere.csv").datasets()
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataFileError, match=r"train_file: .*empty\.jsonl' has no rows"):
        workload(train_file=str(tmp_path / "empty.jsonl")).datasets()


def test_inconsistent_params_and_labels_are_errors(files: tuple[Path, Path], tmp_path: Path) -> None:
    train_file, val_file = files
    with pytest.raises(ValidationError, match="val_share splits train_file"):
        Params(train_file="a.csv", validation_file="b.csv", val_share=0.3)
    with pytest.raises(ValidationError, match="hidden_size, num_layers shape a model built from a config"):
        Params(train_file="a.csv", pretrained="/m", hidden_size=8, num_layers=1)
    with pytest.raises(ValidationError, match="must divide hidden_size"):
        Params(train_file="a.csv", hidden_size=30, num_heads=4)
    write_jsonl(val_file, [{"text": "a bird", "label": "bird"}])
    with pytest.raises(
        DataFileError, match=r"label_column: validation_file has labels never seen in training: \['bird'\]"
    ):
        workload(train_file=str(train_file), validation_file=str(val_file)).datasets()
    one = write_csv(tmp_path / "one.csv", [{"text": "x", "label": "a"}, {"text": "y", "label": "a"}])
    with pytest.raises(DataFileError, match="single label"):
        workload(train_file=str(one), validation_file=str(one)).datasets()
    with pytest.raises(ValueError, match="model_type: 'no-such-model'"):
        workload(train_file=str(train_file), model_type="no-such-model", **TINY_MODEL).build_model()


def test_missing_datasets_names_the_extra(files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'training-harness\[data\]'"):
        workload(train_file=str(files[0])).datasets()


def test_importing_the_module_imports_no_heavy_library() -> None:
    code = (
        "import sys, harness.workloads.text_classification as m; m.Params.model_json_schema(); "
        "print([k for k in ('torch', 'transformers', 'tokenizers', 'datasets') if k in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_param_is_described() -> None:
    assert [n for n, f in Params.model_fields.items() if not f.description] == []
