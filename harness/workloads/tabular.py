"""Workload ``tabular``: an MLP classifier on a table of numeric features, no user code.

The data is either one of scikit-learn's bundled data sets (``data: "sklearn:wine"``,
also ``iris``, ``breast_cancer`` and ``digits``; offline, shipped with scikit-learn) or
a local CSV or Parquet file (``data: "path/to/table.csv"``) read with the ``datasets``
library (``pip install 'training-harness[data]'``), offline. A relative path is resolved against
the current working directory of the ``harness`` (or ``pytest``) process, not against
the scenario file. For a file, ``label_column`` names the class column; the features are
``feature_columns`` (default: every other column), which must be numeric and complete.

Labels may be any values (strings, integers, booleans): they are mapped to ``0..K-1`` in
sorted order, and K is the number of distinct labels. The rows are split into training
and validation by a seeded split (``val_share``, ``split_seed``; stratified by label by
default); each feature is standardised with the mean and standard deviation of the
*training* split only, applied to both splits.

The model is an MLP (``hidden_sizes``, ``activation``, ``dropout``) with K output
logits (or, with ``one_logit`` and two classes, a single logit trained with binary
cross-entropy, the ``BCEWithLogitsLoss`` style). ``zero_init_head`` sets the output layer's weights and bias to zero, so every
input starts with the same logits and the model predicts a single class until the
head learns: with an LR that stays ~0 (a per-step warmup stepped once per epoch) it
never leaves that prediction, which is how ``scenarios/tabular_multiclass.yaml``
replays a multi-class collapse.

Items are ``(features float32, label int64)`` pairs of a ``TensorDataset``, so the
default collate, forward, cross-entropy, training labels and classification metrics
of :class:`~harness.workloads.base.Workload` apply unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from harness.workloads.base import TensorDataWorkload, WorkloadParams

if TYPE_CHECKING:  # torch and numpy are imported where used, so listing workloads stays light
    import numpy as np
    import torch

SKLEARN_DATASETS: dict[str, str] = {
    "wine": "load_wine",
    "iris": "load_iris",
    "breast_cancer": "load_breast_cancer",
    "digits": "load_digits",
    "diabetes": "load_diabetes",
}
#: the bundled data sets whose target is a number (workload ``tabular_regression``), not a class
SKLEARN_REGRESSION: frozenset[str] = frozenset({"diabetes"})
SKLEARN_PREFIX = "sklearn:"
FILE_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
DATA_EXTRA_HINT = "pip install 'training-harness[data]'"


class TabularDataError(ValueError):
    """The configured data cannot be turned into a feature table (names the offending field)."""


class Params(WorkloadParams):
    regression: ClassVar[bool] = False  # which bundled data sets fit (SKLEARN_REGRESSION or the rest)

    data: str = Field(
        "sklearn:wine",
        description="'sklearn:wine|iris|breast_cancer|digits', or a local .csv/.parquet file "
        "(a relative path is resolved against the current working directory)",
    )
    label_column: str | None = Field(None, description="the class column of a CSV/Parquet file (required for a file)")
    feature_columns: list[str] | None = Field(
        None,
        description="feature columns (default: every column but the label); names of a sklearn data set's features too",
    )
    val_share: float = Field(0.25, gt=0, lt=1, description="share of the rows held out for validation")
    split_seed: int = Field(0, description="seed of the train/validation split (runs' seeds vary init and order only)")
    stratify: bool = Field(True, description="keep the class proportions equal in both splits")
    max_samples: PositiveInt | None = Field(
        None, description="use a seeded (stratified) subsample of this many rows before splitting"
    )
    standardize: bool = Field(True, description="z-score every feature with the training split's mean and std")
    hidden_sizes: list[PositiveInt] = Field([64], description="widths of the hidden layers ([] is a linear model)")
    activation: Literal["relu", "tanh", "gelu"] = Field("relu", description="hidden-layer non-linearity")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after every hidden layer")
    zero_init_head: bool = Field(
        False, description="zero the output layer's weights and bias: all logits start equal (one predicted class)"
    )
    one_logit: bool = Field(
        False, description="two classes: one output logit (P(class 1) = sigmoid), trained with BCEWithLogitsLoss"
    )
    eval_batch_size: PositiveInt = Field(512, description="validation batch size")

    @field_validator("data")
    @classmethod
    def _known_data(cls, value: str) -> str:
        if value.startswith(SKLEARN_PREFIX):
            name = value[len(SKLEARN_PREFIX) :]
            known = [n for n in SKLEARN_DATASETS if (n in SKLEARN_REGRESSION) == cls.regression]
            if name not in known:
                other = "tabular" if cls.regression else "tabular_regression"
                hint = f" (a data set of workload {other})" if name in SKLEARN_DATASETS else ""
                raise ValueError(
                    f"unknown scikit-learn data set {name!r}{hint}; available: "
                    + ", ".join(SKLEARN_PREFIX + n for n in known)
                )
            return value
        if Path(value).suffix.lower() not in FILE_FORMATS:
            raise ValueError(f"{value!r} is neither 'sklearn:<name>' nor a file ending in " + ", ".join(FILE_FORMATS))
        return value

    @model_validator(mode="after")
    def _label_column_for_files(self) -> Params:
        if self.is_sklearn:
            if self.label_column is not None:
                raise ValueError(f"label_column is only for a CSV/Parquet file; {self.data} has its own labels")
        elif self.label_column is None:
            raise ValueError(f"label_column is required for a CSV/Parquet file ({self.data})")
        return self

    @property
    def is_sklearn(self) -> bool:
        return self.data.startswith(SKLEARN_PREFIX)


class TabularWorkload(TensorDataWorkload):
    """A K-class MLP on standardised numeric features from scikit-learn or a CSV/Parquet file."""

    params: Params  # the validated workload.params (narrower than the base class's BaseModel)

    name = "tabular"
    Params = Params
    item_tensors = ("x", "y")
    label_tensor = "y"

    # ------------------------------------------------------------ data

    @property
    def num_classes(self) -> int:
        return len(self._load_data()["classes"])

    @property
    def num_features(self) -> int:
        return int(self._load_data()["train_x"].shape[1])

    @property
    def classes(self) -> list[Any]:
        """The original label values; class ``k`` of the model is ``classes[k]``."""
        return list(self._load_data()["classes"])

    @property
    def feature_names(self) -> list[str]:
        return list(self._load_data()["feature_names"])

    def _read_table(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(features (N, F), raw labels (N,), feature names)`` of the configured data."""
        p = self.params
        if p.is_sklearn:
            return self._read_sklearn(p.data[len(SKLEARN_PREFIX) :])
        return self._read_file()

    def _read_sklearn(self, name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        import numpy as np
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, SKLEARN_DATASETS[name])()
        x, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
        names = [str(n) for n in getattr(bunch, "feature_names", [f"x{i}" for i in range(x.shape[1])])]
        if self.params.feature_columns is not None:
            missing = [c for c in self.params.feature_columns if c not in names]
            if missing:
                raise TabularDataError(
                    f"workload tabular: feature_columns {missing} are not features of {self.params.data}; "
                    f"features: {', '.join(names)}"
                )
            idx = [names.index(c) for c in self.params.feature_columns]
            x, names = x[:, idx], list(self.params.feature_columns)
        return x, y, names

    def _read_file(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        import numpy as np

        p = self.params
        path = Path(p.data).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_file():
            raise TabularDataError(f"workload tabular: data file {str(path)!r} does not exist (data: {p.data!r})")
        table = _load_table(path, FILE_FORMATS[path.suffix.lower()])
        columns = list(table.column_names)
        if p.label_column not in columns:
            raise TabularDataError(
                f"workload tabular: label_column {p.label_column!r} is not a column of {path.name}; "
                f"columns: {', '.join(columns)}"
            )
        if p.feature_columns is not None:
            missing = [c for c in p.feature_columns if c not in columns]
            if missing:
                raise TabularDataError(
                    f"workload tabular: feature_columns {missing} are not columns of {path.name}; "
                    f"columns: {', '.join(columns)}"
                )
            if p.label_column in p.feature_columns:
                raise TabularDataError(f"workload tabular: feature_columns includes label_column {p.label_column!r}")
            features = list(p.feature_columns)
        else:
            features = [c for c in columns if c != p.label_column]
        if not features:
            raise TabularDataError(f"workload tabular: {path.name} has no feature column besides {p.label_column!r}")
        labels = table.column(p.label_column).to_numpy(zero_copy_only=False)
        cols = []
        for name in features:
            column = table.column(name)
            try:
                values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
            except (TypeError, ValueError):
                raise TabularDataError(
                    f"workload tabular: feature column {name!r} of {path.name} is not numeric ({column.type}); "
                    "encode it or leave it out of feature_columns"
                ) from None
            cols.append(values)
        x = np.stack(cols, axis=1)
        if _has_missing(labels):
            raise TabularDataError(
                f"workload tabular: label_column {p.label_column!r} of {path.name} has missing values"
            )
        return x, labels, features

    def _build_data(self) -> dict[str, Any]:
        import numpy as np

        p = self.params
        x, raw_labels, names = self._read_table()
        self._check_finite(x, names)
        classes, y = np.unique(raw_labels, return_inverse=True)  # sorted label values -> 0..K-1
        y = y.reshape(-1)
        if len(classes) < 2:
            raise TabularDataError(f"workload tabular: the labels of {p.data} have a single value {classes.tolist()}")
        train_rows, val_rows = self._split(y, stratify=p.stratify)
        data = self._features(x[train_rows], x[val_rows], names)
        data["train_y"], data["val_y"] = (_tensor(y[rows], "long") for rows in (train_rows, val_rows))
        data["classes"] = [c.item() if hasattr(c, "item") else c for c in classes]
        return data

    def _check_finite(self, x: np.ndarray, names: list[str]) -> None:
        import numpy as np

        bad = [names[j] for j in np.flatnonzero(~np.isfinite(x).all(axis=0))]
        if bad:
            raise TabularDataError(
                f"workload {self.name}: feature columns {bad} have missing or non-finite values; "
                "fill them or leave them out of feature_columns"
            )

    def _split(self, y: np.ndarray, *, stratify: bool) -> tuple[np.ndarray, np.ndarray]:
        """The seeded (sub-sample and) train/validation split of the rows, stratified by ``y`` if asked."""
        import numpy as np
        from sklearn.model_selection import train_test_split

        p = self.params
        rows = np.arange(len(y))
        try:
            if p.max_samples is not None and p.max_samples < len(y):
                rows, _ = train_test_split(
                    rows, train_size=p.max_samples, random_state=p.split_seed, stratify=y if stratify else None
                )
            train_rows, val_rows = train_test_split(
                rows, test_size=p.val_share, random_state=p.split_seed, stratify=y[rows] if stratify else None
            )
        except ValueError as exc:
            raise TabularDataError(
                f"workload {self.name}: cannot split {p.data} ({len(rows)} rows) with val_share={p.val_share}"
                f"{' stratified' if stratify else ''}: {exc} (try stratify: false or another val_share)"
            ) from None
        return train_rows, val_rows

    def _features(self, train_x: np.ndarray, val_x: np.ndarray, names: list[str]) -> dict[str, Any]:
        """Both splits' features as float32 tensors, z-scored with the training split's statistics."""
        import numpy as np

        mean, std = np.zeros(train_x.shape[1]), np.ones(train_x.shape[1])
        if self.params.standardize:
            mean, std = standard_scale(train_x)
            train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
        return {
            "train_x": _tensor(train_x, "float32"),
            "val_x": _tensor(val_x, "float32"),
            "mean": mean,
            "std": std,
            "feature_names": names,
        }

    # ------------------------------------------------------------ model

    def outputs(self) -> int:
        """The model's outputs: one logit per class, or one logit for two classes (``one_logit``)."""
        if not self.params.one_logit:
            return self.num_classes
        if self.num_classes != 2:
            raise TabularDataError(
                f"workload tabular: one_logit needs two classes; {self.params.data} has {self.num_classes}"
            )
        return 1

    def build_model(self) -> torch.nn.Module:
        import torch
        from torch import nn

        p = self.params
        activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[p.activation]
        layers: list[nn.Module] = []
        width = self.num_features
        for hidden in p.hidden_sizes:
            layers += [nn.Linear(width, hidden), activation()]
            if p.dropout > 0:
                layers.append(nn.Dropout(p.dropout))
            width = hidden
        head = nn.Linear(width, self.outputs())
        if p.zero_init_head:
            with torch.no_grad():
                head.weight.zero_()
                head.bias.zero_()
        layers.append(head)
        return nn.Sequential(*layers)


def standard_scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation per column (a constant column's std is 1: it stays 0 after centring)."""
    import numpy as np

    std = values.std(axis=0)
    return values.mean(axis=0), np.where(std > 0, std, 1.0)


def _tensor(values: Any, dtype: str) -> torch.Tensor:
    import numpy as np
    import torch

    return torch.as_tensor(np.ascontiguousarray(values), dtype=getattr(torch, dtype))


def _has_missing(values: np.ndarray) -> bool:
    import math

    import numpy as np

    if values.dtype.kind == "f":
        return bool(np.isnan(values).any())
    return any(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.tolist())


def _load_table(path: Path, builder: str) -> Any:
    """A ``pyarrow.Table`` of a local CSV/Parquet file, read offline by ``datasets``."""
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # a local file never needs the Hub
    try:
        import datasets
    except ImportError:
        raise TabularDataError(
            f"workload tabular: reading {path.name} needs the 'datasets' library: {DATA_EXTRA_HINT}"
        ) from None
    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # no "Generating train split" bars in a replay's output
    try:
        dataset = datasets.load_dataset(builder, data_files=str(path), split="train")
    finally:
        if bars:
            datasets.enable_progress_bars()
    return dataset.data.table if hasattr(dataset.data, "table") else dataset.data
