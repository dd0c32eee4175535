"""A regression and a one-logit binary classifier through the contract: their loss, metrics and learning."""

from __future__ import annotations

import pytest
import torch

from harness.testing import train_tiny
from harness.workloads.tabular import Params, TabularWorkload
from harness.workloads.tabular_regression import TabularRegressionWorkload


def test_the_regression_learns_the_diabetes_target_with_mse() -> None:
    workload = TabularRegressionWorkload()
    train, val = workload.datasets()
    assert train.tensors[1].dtype == torch.float32 and abs(float(train.tensors[1].mean())) < 1e-5
    assert workload.declared_key_metrics() == ("r2", "mae", "loss")
    run = train_tiny({}, workload=workload, epochs=6, batch_size=32, lr=3e-3)
    final = run.state.history[-1]
    assert run.status == "ok" and final["r2"] > 0.25 and final["mse"] == final["val_loss"]
    assert run.state.findings == []  # the class monitors skip a regression; a healthy one flags nothing


def test_the_regression_refuses_classification_data_and_options() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="a data set of workload tabular"):
        TabularRegressionWorkload.Params(data="sklearn:wine")
    with pytest.raises(ValidationError, match="a data set of workload tabular_regression"):
        Params(data="sklearn:diabetes")
    with pytest.raises(ValidationError, match="stratify"):
        TabularRegressionWorkload.Params(stratify=True)


def test_a_one_logit_classifier_trains_with_bce_and_gets_the_binary_metrics() -> None:
    workload = TabularWorkload(Params(data="sklearn:breast_cancer", one_logit=True))
    assert workload.build_model()[-1].out_features == 1
    run = train_tiny({}, workload=workload, epochs=4, batch_size=32, lr=3e-3)
    final = run.state.history[-1]
    assert run.status == "ok" and final["f1"] > 0.9 and 0.5 < final["pred_positive_share"] < 0.8
    assert run.state.findings == []
    with pytest.raises(ValueError, match="one_logit needs two classes"):
        TabularWorkload(Params(data="sklearn:wine", one_logit=True)).build_model()
