"""Classification metrics for any K, computed by scikit-learn; binary keeps its names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, roc_auc_score

from harness.core.metrics import binary_classification_metrics, classification_metrics, metric_matches


def test_binary_logits_give_the_binary_names_and_values() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 2, generator=g)
    labels = torch.randint(0, 2, (50,), generator=g)
    got = classification_metrics(labels, logits)
    scores = torch.softmax(logits, dim=-1)[:, 1]
    want = binary_classification_metrics(labels, scores, float(torch.nn.functional.cross_entropy(logits, labels)))
    assert got == want
    pred = (scores > 0.5).long()
    assert got["f1"] == pytest.approx(f1_score(labels, pred))
    assert got["pred_positive"] == got["pred_count_1"] == int(pred.sum())
    assert got["pred_count_0"] + got["pred_count_1"] == got["n"] == 50


def test_ten_classes() -> None:
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(200) % 10
    logits = torch.randn(200, 10, generator=g) + 3 * torch.nn.functional.one_hot(labels, 10) * (
        torch.rand(200, 1, generator=g) > 0.3
    )
    m = classification_metrics(labels, logits)
    pred = logits.argmax(-1)
    assert m["accuracy"] == pytest.approx(float((pred == labels).float().mean()))
    assert m["macro_f1"] == m["f1"] == pytest.approx(f1_score(labels, pred, average="macro"))
    probs = torch.softmax(logits, -1).double().numpy()
    assert m["auc"] == pytest.approx(roc_auc_score(labels, probs / probs.sum(1, keepdims=True), multi_class="ovr"))
    shares = [m[f"pred_share_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0) and m["max_pred_share"] == pytest.approx(max(shares))
    assert "pred_positive" not in m


def test_multiclass_auc_is_nan_when_a_class_is_missing_and_collapse_shows() -> None:
    labels = torch.tensor([0, 1, 0, 1])
    logits = torch.tensor([[5.0, 0.0, 0.0]] * 4)
    m = classification_metrics(labels, logits)
    assert math.isnan(m["auc"])
    assert m["pred_count_0"] == 4 and m["max_pred_share"] == 1.0 and m["pred_share_2"] == 0.0


def test_non_finite_logits_do_not_crash() -> None:
    m = classification_metrics(torch.tensor([0, 1, 2]), torch.full((3, 3), float("nan")))
    assert math.isnan(m["auc"]) and m["n"] == 3
    assert np.isnan(m["val_loss"])


def test_per_class_names_match_their_pattern() -> None:
    declared = ("f1", "pred_share_<k>")
    assert metric_matches("pred_share_12", declared) and metric_matches("f1", declared)
    assert not metric_matches("pred_share_", declared) and not metric_matches("pred_share_x", declared)
    assert not metric_matches("pred_count_1", declared)


def test_one_logit_gives_the_same_binary_metrics_as_two_logits() -> None:
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    logit = torch.tensor([-2.0, 1.5, -0.3, 0.4, 3.0, -1.0])
    two = torch.stack([torch.zeros_like(logit), logit], dim=1)  # softmax([0, z])[1] = sigmoid(z)
    one, pair = classification_metrics(labels, logit[:, None]), classification_metrics(labels, two)
    for name in ("f1", "precision", "recall", "accuracy", "auc", "pred_positive", "max_pred_share", "val_loss"):
        assert one[name] == pytest.approx(pair[name]), name
    assert classification_metrics(labels, logit)["f1"] == pytest.approx(pair["f1"])  # shape (N,) too
    assert one["pred_positive"] == 3 and one["accuracy"] == pytest.approx(4 / 6)


def test_regression_metrics_match_scikit_learn_and_say_how_much_predictions_vary() -> None:
    from sklearn.metrics import mean_absolute_error, r2_score

    from harness.core.metrics import REGRESSION_METRICS, regression_metrics

    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 1.5, 3.5, 3.0])
    m = regression_metrics(torch.tensor(y), torch.tensor(p)[:, None])
    assert set(m) == set(REGRESSION_METRICS)
    assert m["mse"] == pytest.approx(((y - p) ** 2).mean()) == pytest.approx(m["val_loss"])
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p)) and m["r2"] == pytest.approx(r2_score(y, p))
    assert m["pred_std"] == pytest.approx(p.std()) and m["target_std"] == pytest.approx(y.std())
    assert math.isnan(regression_metrics(y, [1.0, math.inf, 2.0, 3.0])["r2"])
