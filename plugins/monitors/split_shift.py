"""Split-shift monitor: ``data_split_shift``, validation inputs prepared differently from training.

Pathology: the validation split goes through other preprocessing than the training split:
a scaler fitted on one split and not applied to the other, features in another unit
(millivolts for volts) or another order (an image transposed, columns permuted). Training
looks healthy; validation sits far below it, and nothing in the training batches says why.
Signal: once, at the start of training, the main input of up to ``sample_items`` (1024)
evenly spaced items per split, flattened to features: a feature has *shifted* when its
validation mean lies more than ``max_shift`` (1) training standard deviations from its
training mean, or its validation std is more than ``max_ratio`` (5) times larger or smaller
than the training one (features constant in training are left out). A finding when at
least ``min_share`` (25%) of the features shifted. Features whose own statistics match may
still be scrambled (an image transposed, columns permuted after per-split scaling): a
finding too when the features' correlation matrices differ by more than
``corr_noise`` (2.5) times what sampling alone explains (a mean absolute difference
above ``2.5 x 0.8 / sqrt(n)``, n the smaller split; clean splits of the benchmarks sit
at about 1x). A random (or stratified) split moves a feature's mean by about
``1/sqrt(n)`` of its std, far below either rule; a time-ordered split may legitimately
drift, and the finding then says what moved. Only float inputs with at least
``min_items`` (30) items in each split and at most ``max_features`` (512) features are
judged.
Fix: none; this monitor only observes: prepare both splits with the same code (fit the
scaler on training data, apply it to both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.findings import FindingKind
from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.causes import VALIDATION_PREPARED_DIFFERENTLY
from harness.plugins._shared.data import collate_items, evenly_spaced
from harness.plugins.monitors.data_checks import datasets_of, primary_input

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample_items: PositiveInt = Field(1024, description="items sampled per split")
    max_shift: float = Field(1.0, gt=0, description="a feature's validation mean this many training stds away")
    max_ratio: float = Field(5.0, gt=1, description="a feature's validation std this many times off the training one")
    min_share: float = Field(0.25, gt=0, le=1, description="data_split_shift when this share of features shifted")
    min_items: PositiveInt = Field(30, description="splits with fewer items are not judged")
    corr_noise: float = Field(2.5, gt=1, description="correlations differ this many times the sampling noise")
    max_features: PositiveInt = Field(512, description="inputs with more features are not judged")


def sampled_features(workload: Any, dataset: Any, limit: int) -> Any:
    """The main float input of up to ``limit`` evenly spaced items as an (items, features) float64 tensor."""
    indices = evenly_spaced(len(dataset), limit)
    batch = collate_items(workload, dataset, indices) if indices else None
    key = primary_input(batch) if batch else None
    if not batch or key is None or not batch[key].is_floating_point():
        return None
    values = batch[key].detach().double()
    return values.reshape(values.shape[0], -1)


DATA_SPLIT_SHIFT_KIND = FindingKind(
    "data_split_shift",
    "validation inputs prepared differently from the training inputs",
    causes=(VALIDATION_PREPARED_DIFFERENTLY,),
    signals=("data", "validation"),
)


class SplitShift(Plugin):
    name = "split_shift"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (DATA_SPLIT_SHIFT_KIND,)

    @hookimpl
    def on_train_start(self, state: TrainState) -> None:
        splits = datasets_of(state)
        if splits is None:
            return
        try:
            train, val = (sampled_features(state.workload, d, self.params.sample_items) for d in splits)
        except Exception:  # noqa: BLE001 - data this monitor cannot read is data it does not judge
            return
        if train is None or val is None or train.shape[1] != val.shape[1]:
            return
        if min(train.shape[0], val.shape[0]) < self.params.min_items or train.shape[1] > self.params.max_features:
            return
        message = self.judge(train, val) or self.judge_structure(train, val)
        if message is not None:
            state.add_finding("data_split_shift", self.name, message[0], value=message[1])

    def judge(self, train: Any, val: Any) -> tuple[str, float] | None:
        """The finding's message and the shifted share, when enough features moved between the splits."""
        import torch

        std = train.std(dim=0)
        varying = std > 1e-12
        if int(varying.sum()) < 1:
            return None
        shift = (val.mean(dim=0) - train.mean(dim=0)).abs()[varying] / std[varying]
        ratio = val.std(dim=0)[varying] / std[varying]
        moved = (shift > self.params.max_shift) | (ratio > self.params.max_ratio) | (ratio < 1 / self.params.max_ratio)
        share = float(moved.double().mean())
        if share < self.params.min_share:
            return None
        worst = int(torch.argmax(shift))
        return (
            f"{share:.0%} of the {int(varying.sum())} input features differ between the splits (validation mean up "
            f"to {float(shift[worst]):.1f} training stds away, std ratio {float(ratio.min()):.2g}-"
            f"{float(ratio.max()):.2g}): is the validation split prepared like the training split (same scaler, "
            "units, feature order)?",
            share,
        )

    def judge_structure(self, train: Any, val: Any) -> tuple[str, float] | None:
        """The message and the correlation difference, when the features' correlations differ beyond noise."""
        import math

        import torch

        varying = (train.std(dim=0) > 1e-9) & (val.std(dim=0) > 1e-9)
        if int(varying.sum()) < 3:
            return None
        difference = float((torch.corrcoef(train[:, varying].T) - torch.corrcoef(val[:, varying].T)).abs().mean())
        noise = 0.8 / math.sqrt(min(train.shape[0], val.shape[0]))
        if difference <= self.params.corr_noise * noise:
            return None
        return (
            f"the input features are correlated differently in the two splits (mean |difference| {difference:.2f}, "
            f"{difference / noise:.1f}x what sampling explains): features in another order or layout in one split "
            "(transposed, permuted columns)? prepare both splits with the same code",
            difference,
        )
