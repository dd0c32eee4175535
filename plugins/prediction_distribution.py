"""Prediction-distribution monitor: records a ``collapse`` finding (issue 11, Fix 3).

Pathology: the model collapses to predicting one class; F1 alone does not say which.
Signal: on validation, one class takes every prediction, or all but ``min_share`` of
them (``max_pred_share >= 1 - min_share``), for any number of classes.
Fix: none; this monitor only observes and records. Stopping is ``collapse_stop``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import Plugin, hookimpl


def predicted_counts(metrics: dict[str, Any]) -> list[int]:
    """The ``pred_count_<k>`` of a metrics record, in class order (empty: no class predictions)."""
    counts = []
    while f"pred_count_{len(counts)}" in metrics:
        counts.append(int(metrics[f"pred_count_{len(counts)}"]))
    return counts


def is_collapsed(metrics: dict[str, Any], min_share: float = 0.0) -> bool:
    """True when validation predictions are (nearly) all one class: the others share <= ``min_share``."""
    counts = predicted_counts(metrics)
    n = sum(counts)
    if not n:
        return False
    return (n - max(counts)) / n <= min_share


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_share: float = Field(0.0, ge=0, lt=0.5, description="collapse when a class's predicted share <= this")


class PredictionDistribution(Plugin):
    name = "prediction_distribution"
    kind = "monitor"
    Params = Params
    finding_kinds = ("collapse",)

    @hookimpl
    def on_epoch_end(self, state: Any, metrics: dict[str, Any]) -> None:
        counts = predicted_counts(metrics)
        if not counts:
            return  # a workload without class predictions
        if is_collapsed(metrics, self.params.min_share):
            n, top = sum(counts), max(range(len(counts)), key=counts.__getitem__)
            state.add_finding(
                "collapse",
                self.name,
                f"predicted class {top} for {counts[top]}/{n} validation samples ({len(counts)} classes)",
                value=counts[top] / n,
            )
