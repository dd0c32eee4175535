"""Validation metrics of every classification and regression workload, from scikit-learn.

One function, :func:`classification_metrics`, turns validation logits and labels into
the same metric names for every classifier, binary or K-class, with two logits or one
(the ``BCEWithLogitsLoss`` style: a single logit per sample, class 1 when its sigmoid is
above 0.5):

=====================  ===========================================================
``accuracy``           share of correct argmax predictions
``macro_f1``           F1 averaged over the K classes
``f1``                 binary: F1 of class 1 (the positive class); K > 2: macro F1
``precision``          binary: of class 1; K > 2: macro average
``recall``             binary: of class 1; K > 2: macro average
``auc``                binary: ROC AUC of P(class 1); K > 2: one-vs-rest macro AUC
                       (NaN when a class is missing from the labels or logits are not finite)
``val_loss``           mean cross-entropy on the validation set
``pred_count_<k>``     validation samples predicted as class k
``pred_share_<k>``     ... as a share of all samples
``max_pred_share``     the largest ``pred_share_<k>`` (1.0: collapsed to one class)
``pred_positive``      binary only: ``pred_count_1``
``pred_positive_share`` binary only: ``pred_share_1``
``n``                  validation samples
=====================  ===========================================================

:func:`regression_metrics` gives a regression workload (``task = "regression"``)
``mse``, ``mae``, ``r2`` (scikit-learn's coefficient of determination: 1 is perfect, 0 is
predicting the mean), ``val_loss`` (the MSE), ``pred_std`` and ``target_std`` (the standard
deviations of the predictions and of the targets: predictions that barely vary learned
nothing about the inputs) and ``n``.
"""

from __future__ import annotations

import math
import re
from typing import Any

CLASSIFICATION_METRICS: tuple[str, ...] = (
    "accuracy",
    "f1",
    "macro_f1",
    "precision",
    "recall",
    "auc",
    "val_loss",
    "pred_count_<k>",
    "pred_share_<k>",
    "max_pred_share",
    "pred_positive",
    "pred_positive_share",
    "n",
)

REGRESSION_METRICS: tuple[str, ...] = ("mse", "mae", "r2", "val_loss", "pred_std", "target_std", "n")


#: the one key scheme of per-class prediction counts, in the loop's metrics and in watch's epochs
PRED_COUNT = "pred_count_"


def class_counts(metrics: dict[str, Any]) -> list[int]:
    """The ``pred_count_<k>`` of an epoch's metrics, in class order (empty: no class predictions)."""
    counts: list[int] = []
    while f"{PRED_COUNT}{len(counts)}" in metrics:
        counts.append(int(metrics[f"{PRED_COUNT}{len(counts)}"]))
    return counts


def metric_matches(name: str, declared: tuple[str, ...] | list[str]) -> bool:
    """Whether ``name`` is one of ``declared`` (where ``x_<k>`` stands for ``x_0``, ``x_1``, ...)."""
    for entry in declared:
        if entry == name or (entry.endswith("_<k>") and re.fullmatch(re.escape(entry[:-3]) + r"\d+", name)):
            return True
    return False


def classification_metrics(labels: Any, logits: Any) -> dict[str, Any]:
    """The metrics of the module docstring, from ``(N,)`` integer labels and ``(N, K)`` logits
    (``(N,)`` or ``(N, 1)``: one logit per sample, a binary classifier)."""
    import torch
    import torch.nn.functional as F

    labels = torch.as_tensor(labels).long().cpu()
    logits = torch.as_tensor(logits).float().cpu()
    if logits.dim() == 1 or logits.shape[-1] == 1:
        logit = logits.reshape(-1)
        loss = float(F.binary_cross_entropy_with_logits(logit, labels.reshape(-1).float()))
        return binary_classification_metrics(labels.reshape(-1), torch.sigmoid(logit), loss)
    val_loss = float(F.cross_entropy(logits, labels))
    probabilities = torch.softmax(logits, dim=-1)
    if logits.shape[-1] == 2:
        return binary_classification_metrics(labels, probabilities[:, 1], val_loss)
    return multiclass_metrics(labels, probabilities, val_loss)


def _distribution(pred: Any, num_classes: int) -> dict[str, Any]:
    import numpy as np

    n = int(pred.size)
    counts = np.bincount(pred, minlength=num_classes)[:num_classes] if n else np.zeros(num_classes, dtype=int)
    out: dict[str, Any] = {}
    for k, count in enumerate(counts.tolist()):
        out[f"{PRED_COUNT}{k}"] = int(count)
    for k, count in enumerate(counts.tolist()):
        out[f"pred_share_{k}"] = count / n if n else 0.0
    out["max_pred_share"] = max(counts.tolist()) / n if n else 0.0
    return out


def binary_classification_metrics(labels: Any, scores: Any, val_loss: float) -> dict[str, Any]:
    """F1/precision/recall of the positive class, accuracy, AUC and the prediction distribution.

    :param labels: 0/1 ground truth; :param scores: probability of class 1 (argmax = score > 0.5).
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    finite = bool(np.isfinite(s).all())
    pred = (s > 0.5).astype(int) if finite else np.zeros_like(y)
    precision, recall, f1, _ = precision_recall_fscore_support(y, pred, average="binary", pos_label=1, zero_division=0)
    auc = float(roc_auc_score(y, s)) if finite and len(set(y.tolist())) == 2 else math.nan
    n = int(y.size)
    positive = int(pred.sum())
    return {
        "f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "accuracy": float(accuracy_score(y, pred)),
        "auc": auc,
        "val_loss": float(val_loss),
        "pred_positive": positive,
        "pred_positive_share": positive / n if n else 0.0,
        "n": n,
        "macro_f1": float(f1_score(y, pred, average="macro", labels=[0, 1], zero_division=0)),
        **_distribution(pred, 2),
    }


def multiclass_metrics(labels: Any, probabilities: Any, val_loss: float) -> dict[str, Any]:
    """Accuracy, macro F1/precision/recall, one-vs-rest AUC and per-class prediction counts for K > 2."""
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, dtype=np.float64)
    num_classes = p.shape[-1]
    finite = bool(np.isfinite(p).all())
    pred = p.argmax(axis=-1) if finite else np.zeros_like(y)
    classes = list(range(num_classes))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="macro", labels=classes, zero_division=0
    )
    auc = math.nan
    if finite and len(set(y.tolist())) == num_classes:
        auc = float(roc_auc_score(y, p / p.sum(axis=-1, keepdims=True), multi_class="ovr", labels=classes))
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1),
        "macro_f1": float(f1),
        "precision": float(precision),
        "recall": float(recall),
        "auc": auc,
        "val_loss": float(val_loss),
        "n": int(y.size),
        **_distribution(pred, num_classes),
    }


def regression_metrics(targets: Any, predictions: Any) -> dict[str, Any]:
    """MSE, MAE and R² of ``predictions`` against ``targets`` (any matching shapes, flattened).

    Non-finite predictions give NaN metrics (the run diverged), not an exception.
    """
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    p = np.asarray(predictions, dtype=np.float64).reshape(-1)
    n = int(y.size)
    if not np.isfinite(p).all() or n == 0:
        nan = math.nan
        return {"mse": nan, "mae": nan, "r2": nan, "val_loss": nan, "pred_std": nan, "target_std": nan, "n": n}
    mse = float(mean_squared_error(y, p))
    return {
        "mse": mse,
        "mae": float(mean_absolute_error(y, p)),
        "r2": float(r2_score(y, p)) if n > 1 else math.nan,
        "val_loss": mse,
        "pred_std": float(p.std()),
        "target_std": float(y.std()),
        "n": n,
    }
