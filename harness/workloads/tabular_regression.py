"""Workload ``tabular_regression``: an MLP regressor on a table of numeric features, no user code.

The same data sources, split and feature scaling as ``tabular`` (scikit-learn's bundled
``sklearn:diabetes``, the default, or a local CSV/Parquet file whose ``label_column`` is
the numeric target), but the label is a number to predict: the model has one output,
the loss is the mean squared error and the metrics are ``mse``, ``mae`` and ``r2``
(``task = "regression"``; the monitors that need classes skip it).

``standardize_target`` (on by default) z-scores the target with the training split's
mean and standard deviation, as a careful script does; the metrics are then in those
units (an ``r2`` does not depend on them). The split is not stratified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from harness.workloads.tabular import Params as ClassifierParams
from harness.workloads.tabular import TabularDataError, TabularWorkload, _tensor, standard_scale

if TYPE_CHECKING:
    import torch


class Params(ClassifierParams):
    regression: ClassVar[bool] = True

    data: str = Field(
        "sklearn:diabetes",
        description="'sklearn:diabetes', or a local .csv/.parquet file whose label_column is numeric",
    )
    stratify: bool = Field(False, description="(a regression's split is never stratified)")
    standardize_target: bool = Field(True, description="z-score the target with the training split's mean and std")

    @model_validator(mode="after")
    def _no_classification_options(self) -> Params:
        if self.stratify:
            raise ValueError("stratify: a regression target has no classes to stratify by")
        if self.one_logit:
            raise ValueError("one_logit: a regression has one output already")
        return self


class TabularRegressionWorkload(TabularWorkload):
    """An MLP with one output predicting a numeric column, trained with MSE."""

    params: Params  # the regression's Params extend the classifier's

    name = "tabular_regression"
    task = "regression"
    Params = Params  # type: ignore[assignment]

    @property
    def num_classes(self) -> int:
        raise TabularDataError("workload tabular_regression has no classes (it predicts a number)")

    def outputs(self) -> int:
        return 1

    def _build_data(self) -> dict[str, Any]:
        import numpy as np

        x, raw_targets, names = self._read_table()
        self._check_finite(x, names)
        try:
            y = np.asarray(raw_targets, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TabularDataError(f"workload {self.name}: the target of {self.params.data} is not numeric") from None
        train_rows, val_rows = self._split(y, stratify=False)
        data = self._features(x[train_rows], x[val_rows], names)
        mean, std = (0.0, 1.0)
        if self.params.standardize_target:
            mean, std = (float(v) for v in standard_scale(y[train_rows]))
        data["train_y"], data["val_y"] = (_tensor((y[rows] - mean) / std, "float32") for rows in (train_rows, val_rows))
        data["target_mean"], data["target_std"] = mean, std
        data["classes"] = []
        return data

    def train_labels(self) -> torch.Tensor:
        return self._load_data()["train_y"]
