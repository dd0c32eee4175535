"""Class-balanced loss (issue 11, Fix 1).

Pathology: with no class weights the model can lower its loss by predicting the
majority class (54.2% "safe") for everything: collapse to one class.
Signal: validation predictions are (nearly) all one class; F1 of the minority -> 0.
Fix: cross-entropy weighted by inverse class frequency, ``total / (classes * count)``,
with conservative label smoothing (0.05) and a plain mean reduction.

It *replaces* v1.5's ``sample_weighted_loss`` (``replaces``): both build the criterion
(``make_criterion``), so where both are enabled (``--with class_weights`` on the v1.5
variant) that one is switched off instead of silently winning or losing. The weights
used are recorded in the run's ``outcomes`` as ``class_weights`` (one per class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.core.plugin import Plugin, hookimpl

if TYPE_CHECKING:
    from harness.core.state import Criterion, TrainState


def inverse_frequency_weights(labels: Any, num_classes: int | None = None) -> Any:
    """``total / (num_classes * count_c)`` per class, as the incident's fix computes it."""
    import torch

    counts = torch.bincount(labels, minlength=num_classes or 0).double()
    weights = labels.numel() / (counts.numel() * counts.clamp(min=1))
    return weights.float()


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label_smoothing: float = Field(0.05, ge=0, lt=1, description="label smoothing of the weighted loss")


class ClassWeights(Plugin):
    name = "class_weights"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    addresses = ("collapse", "near_collapse")
    replaces = ("sample_weighted_loss",)

    @hookimpl
    def make_criterion(self, state: TrainState) -> Criterion:
        import torch

        weights = inverse_frequency_weights(state.workload.train_labels()).to(state.device)
        state.outcomes["class_weights"] = weights.tolist()
        loss = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=self.params.label_smoothing, reduction="mean")
        return lambda logits, batch: loss(logits.float(), batch["labels"])
