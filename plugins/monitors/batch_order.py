"""Batch-order monitor: ``data_ordered_by_label`` seen in the training batches themselves.

Pathology: the training data reaches the model ordered by label although the loader
shuffles: a ``Dataset`` whose ``__getitem__`` ignores the index it is given (a file
reader or a stream wrapped as a dataset) returns its rows in file order, sorted by
class. Each stretch of the epoch trains on one class, and the model ends each epoch
predicting the last classes it saw. ``data_checks`` sees the sorted labels only when the
loader does not shuffle; here the order is in what the batches hold.
Signal: the labels of the first ``batches`` (16) training batches of epoch 1: the mean
share of each batch's most common label (its *purity*), against the largest class's
share of those labels. A shuffled batch's purity is a little above the largest class's
share (0.6 for two balanced classes in batches of 16, 0.2 for ten); a finding when the
mean purity is at least halfway from that share to 1 (``gap``: 0.5) and at least
``min_purity`` (0.5), over batches of at least ``min_batch`` (16) items. Per-batch values stay tensors until the epoch's end.
Fix: none; this monitor only observes: index the data with the index ``__getitem__``
receives, and shuffle the training loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from harness.core.plugin import Plugin, hookimpl
from harness.plugins._shared.model_parts import is_classifier
from harness.plugins.monitors.data_checks import DATA_ORDERED_BY_LABEL_KIND

if TYPE_CHECKING:
    from harness.core.state import TrainState


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batches: PositiveInt = Field(16, description="training batches of epoch 1 whose labels are read")
    gap: float = Field(0.5, gt=0, lt=1, description="finding when purity is this share of the way from the prior to 1")
    min_purity: float = Field(0.5, gt=0, le=1, description="... and at least this")
    min_batch: PositiveInt = Field(16, description="batches smaller than this are not read")


class BatchOrder(Plugin):
    name = "batch_order"
    kind = "monitor"
    params: Params  # the instance's parameters, of this plugin's own model
    Params = Params
    kinds = (DATA_ORDERED_BY_LABEL_KIND,)

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.labels: list[Any] = []
        self.judged = False

    @hookimpl
    def on_batch(self, state: TrainState, batch: dict[str, Any]) -> None:
        if self.judged or state.epoch != 1 or len(self.labels) >= self.params.batches:
            return
        labels = batch.get("labels")
        if labels is None or labels.dim() != 1 or labels.is_floating_point() or labels.numel() < self.params.min_batch:
            return
        if not is_classifier(state.workload):
            self.judged = True
            return
        self.labels.append(labels.detach())

    @hookimpl
    def on_epoch_end(self, state: TrainState) -> None:
        if self.judged or not self.labels:
            return
        self.judged = True
        import torch

        labels = [b.cpu() for b in self.labels]  # one host transfer per batch, once per run
        purity = sum(float(torch.bincount(b).max()) / b.numel() for b in labels) / len(labels)
        every = torch.cat(labels)
        largest = float(torch.bincount(every).max()) / every.numel()
        bar = max(self.params.min_purity, largest + self.params.gap * (1 - largest))
        if purity >= bar and largest < 1:
            state.add_finding(
                "data_ordered_by_label",
                self.name,
                f"the first {len(labels)} training batches each hold almost one class (mean majority share "
                f"{purity:.0%}; the largest class is {largest:.0%} of their labels): the data reaches the model "
                "ordered by label (a Dataset that ignores its index? an unshuffled loader?)",
                value=purity,
            )
        self.labels = []
