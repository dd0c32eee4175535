"""Validation metrics from scikit-learn (no hand-rolled F1 or AUC)."""

from __future__ import annotations

import math
from typing import Any


def binary_classification_metrics(labels: Any, scores: Any, val_loss: float) -> dict[str, Any]:
    """F1/precision/recall of the positive class, accuracy, AUC and the prediction distribution.

    :param labels: 0/1 ground truth; :param scores: probability of class 1 (argmax = score > 0.5).
    """
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    finite = bool(np.isfinite(s).all())
    pred = (s > 0.5).astype(int) if finite else np.zeros_like(y)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, pred, average="binary", pos_label=1, zero_division=0
    )
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
    }
