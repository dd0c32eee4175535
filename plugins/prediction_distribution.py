"""Prediction-distribution monitor: records a ``collapse`` finding (issue 11, Fix 3).

Pathology: the model collapses to predicting one class; F1 alone does not say which.
Signal: on validation, the predicted-positive count is 0 or equals the sample count
(or the minority predicted class falls to ``min_share`` or below).
Fix: none; this monitor only observes and records. Stopping is ``collapse_stop``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from harness.plugin import Plugin, hookimpl


def is_collapsed(metrics: dict[str, Any], min_share: float = 0.0) -> bool:
    """True when validation predictions are (nearly) all one class."""
    n = metrics.get("n") or 0
    if not n:
        return False
    share = metrics["pred_positive"] / n
    return min(share, 1.0 - share) <= min_share


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
        if "pred_positive" not in metrics:
            return  # a workload without class predictions
        if is_collapsed(metrics, self.params.min_share):
            positive, n = metrics["pred_positive"], metrics["n"]
            only = "1 (positive)" if positive * 2 > n else "0 (negative)"
            state.add_finding(
                "collapse",
                self.name,
                f"predicted class {only} for {max(positive, n - positive)}/{n} validation samples",
                value=metrics["pred_positive_share"],
            )
