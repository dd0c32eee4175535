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

On a script (``acts_on_scripts``): each training ``cross_entropy`` call the script makes without
weights of its own (``nn.CrossEntropyLoss()`` included) is given the inverse-frequency weights of
the labels of every training call so far (its own batch included), and this label smoothing
where it sets none.
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
    acts_on_scripts = True

    def script_edit(self, lr: float | None = None) -> str:
        return (
            "weight the loss by class: CrossEntropyLoss(weight=counts.sum() / (len(counts) * counts), "
            f"label_smoothing={self.params.label_smoothing:g}) with counts the training labels' class counts"
        )

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.counts: Any = None  # a script's training labels so far, per class

    @hookimpl
    def make_criterion(self, state: TrainState) -> Criterion:
        import torch

        weights = inverse_frequency_weights(state.workload.train_labels()).to(state.device)
        state.outcomes["class_weights"] = weights.tolist()
        loss = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=self.params.label_smoothing, reduction="mean")
        return lambda logits, batch: loss(logits.float(), batch["labels"])

    def script_loss(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        import torch

        logits = args[0] if args else kwargs.get("input")
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if name != "cross_entropy" or kwargs.get("weight") is not None or len(args) > 2:
            return
        if not isinstance(logits, torch.Tensor) or logits.dim() < 2:
            return
        if not isinstance(target, torch.Tensor) or target.dtype != torch.long:
            return  # class probabilities as targets: no labels to count
        labels = target[target >= 0].flatten()
        counts = torch.bincount(labels, minlength=logits.shape[1]).double()
        self.counts = counts if self.counts is None else self.counts + counts
        weights = self.counts.sum() / (self.counts.numel() * self.counts.clamp(min=1))
        kwargs["weight"] = weights.to(device=logits.device, dtype=logits.dtype)
        if not kwargs.get("label_smoothing"):
            kwargs["label_smoothing"] = self.params.label_smoothing
