"""The tabular workload: sklearn and CSV/Parquet data, seeded split, train-only standardisation, MLP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from harness.testing import train_tiny
from harness.workloads import workload_class
from harness.workloads.tabular import Params, TabularDataError, TabularWorkload


def _workload(**params: object) -> TabularWorkload:
    return TabularWorkload(Params(**params))


def test_is_the_builtin_tabular_workload_and_imports_no_torch() -> None:
    assert workload_class("tabular") is TabularWorkload
    code = (
        "import sys, harness.workloads.tabular as t; t.Params(); "
        "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'datasets') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert all(field.description for field in Params.model_fields.values())


def test_wine_has_three_classes_and_standardisation_is_fitted_on_train_only() -> None:
    w = _workload(data="sklearn:wine")
    train, val = w.datasets()
    assert w.num_classes == 3 and w.num_features == 13
    assert len(train) + len(val) == 178 and len(val) == 45  # val_share 0.25
    x_train, y_train = train.tensors
    x_val, _ = val.tensors
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.long
    assert sorted(set(y_train.tolist())) == [0, 1, 2]
    assert torch.allclose(x_train.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(x_train.std(0, unbiased=False), torch.ones(13), atol=1e-4)
    assert not torch.allclose(x_val.mean(0), torch.zeros(13), atol=1e-3)  # the train statistics, not its own
    assert torch.equal(w.train_labels(), y_train)
    assert w.datasets()[0].tensors[0] is x_train  # cached: a second call is cheap


def test_split_is_deterministic_per_split_seed_and_stratified() -> None:
    a, b = _workload(), _workload()
    c = _workload(split_seed=1)
    assert torch.equal(a.datasets()[1].tensors[0], b.datasets()[1].tensors[0])
    assert not torch.equal(a.datasets()[1].tensors[0], c.datasets()[1].tensors[0])
    counts = torch.bincount(a.datasets()[1].tensors[1]).tolist()
    assert counts == [15, 18, 12]  # wine's 59/71/48, stratified into 45 validation rows


def test_other_sklearn_sets_max_samples_and_feature_selection() -> None:
    digits = _workload(data="sklearn:digits", max_samples=400)
    train, val = digits.datasets()
    assert digits.num_classes == 10 and len(train) + len(val) == 400
    assert torch.isfinite(train.tensors[0]).all()  # constant pixels stay finite (std 0 -> 1)
    assert _workload(data="sklearn:breast_cancer").num_classes == 2
    iris = _workload(data="sklearn:iris", feature_columns=["petal length (cm)", "petal width (cm)"])
    assert iris.num_features == 2 and iris.feature_names == ["petal length (cm)", "petal width (cm)"]


def _table() -> dict[str, list[object]]:
    n = 60
    species = ["setosa", "virginica", "versicolor"]
    return {
        "a": [float(i % 7) for i in range(n)],
        "b": [float((i * 3) % 11) - 5 for i in range(n)],
        "id": list(range(n)),
        "kind": [species[i % 3] for i in range(n)],
    }


def test_csv_with_string_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pd = pytest.importorskip("pandas")
    pd.DataFrame(_table()).to_csv(tmp_path / "table.csv", index=False)
    monkeypatch.chdir(tmp_path)  # a relative path is resolved against the working directory
    w = _workload(data="table.csv", label_column="kind", feature_columns=["a", "b"])
    train, val = w.datasets()
    assert w.num_classes == 3 and w.classes == ["setosa", "versicolor", "virginica"]  # sorted
    assert w.num_features == 2 and len(train) == 45 and len(val) == 15
    every = _workload(data=str(tmp_path / "table.csv"), label_column="kind")
    assert every.feature_names == ["a", "b", "id"]  # default: every column but the label


def test_parquet_with_integer_labels(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    table = _table() | {"grade": [10 + 5 * (i % 4) for i in range(60)]}
    pd.DataFrame(table).drop(columns=["kind"]).to_parquet(tmp_path / "table.parquet")
    w = _workload(data=str(tmp_path / "table.parquet"), label_column="grade")
    assert w.num_classes == 4 and w.classes == [10, 15, 20, 25]
    assert sorted(set(w.train_labels().tolist())) == [0, 1, 2, 3]


def test_zero_init_head_gives_every_input_the_same_logits() -> None:
    w = _workload(zero_init_head=True, hidden_sizes=[32, 16], activation="gelu", dropout=0.1)
    model = w.build_model().eval()
    x = w.datasets()[1].tensors[0]
    logits = model(x)
    assert logits.shape == (len(x), 3)
    assert torch.equal(logits, torch.zeros_like(logits))
    plain = _workload().build_model()
    assert plain(x).std(0).min() > 0  # a random head separates inputs


def test_bad_data_is_a_clear_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown scikit-learn data set 'wines'.*sklearn:wine"):
        Params(data="sklearn:wines")
    with pytest.raises(ValidationError, match="label_column is required"):
        Params(data="table.csv")
    with pytest.raises(ValidationError, match="data"):
        Params(data="table.xlsx")
    pd = pytest.importorskip("pandas")
    pd.DataFrame(_table()).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        TabularDataError, match="label_column 'label' is not a column of t.csv; columns: a, b, id, kind"
    ):
        _workload(data=str(tmp_path / "t.csv"), label_column="label").datasets()
    with pytest.raises(TabularDataError, match="feature column 'kind' .* is not numeric"):
        _workload(data=str(tmp_path / "t.csv"), label_column="id", feature_columns=["a", "kind"]).datasets()
    with pytest.raises(TabularDataError, match="does not exist"):
        _workload(data=str(tmp_path / "missing.csv"), label_column="kind").datasets()
    with pytest.raises(TabularDataError, match=r"feature_columns \['nope'\]"):
        _workload(feature_columns=["nope"]).datasets()


def test_missing_datasets_library_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "t.csv").write_text("a,kind\n1,x\n2,y\n")
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(TabularDataError, match=r"pip install 'training-harness\[data\]'"):
        _workload(data=str(tmp_path / "t.csv"), label_column="kind").datasets()


def test_a_short_training_run_learns_wine() -> None:
    run = train_tiny(workload=_workload(), epochs=6, lr=1e-2, batch_size=16)
    assert run.status == "ok"
    assert run.metric("accuracy")[-1] > 0.85
    assert run.history[-1]["max_pred_share"] < 0.6
