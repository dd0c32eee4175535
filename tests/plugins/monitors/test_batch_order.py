"""batch_order monitor: training batches that each hold one class although the loader shuffles."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from harness.testing import tiny_tabular_workload, train_tiny
from harness.workloads.tabular import TabularWorkload


class Stream(Dataset):
    """A reader wrapped as a Dataset: rows in file (label) order, whatever index it is asked for."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        order = torch.argsort(y, stable=True)
        self.x, self.y, self.position = x[order], y[order], 0

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.x[self.position], self.y[self.position]
        self.position = (self.position + 1) % len(self.y)
        return item


class Streamed(TabularWorkload):
    def datasets(self) -> Any:
        train, val = super().datasets()
        return Stream(*train.tensors), val


def order_findings(run: Any) -> list[tuple[str, int]]:
    return [
        (f.kind, f.epoch) for f in run.state.findings if f.kind == "data_ordered_by_label" and f.plugin == "batch_order"
    ]


def test_batches_of_one_class_each_are_found_in_epoch_1() -> None:
    digits = {"data": "sklearn:digits", "max_samples": 600}
    run = train_tiny({}, workload=Streamed(tiny_tabular_workload(**digits).params), epochs=1, batch_size=32)
    assert order_findings(run) == [("data_ordered_by_label", 1)]
    assert "ordered by label" in next(f.message for f in run.state.findings if f.plugin == "batch_order")


def test_shuffled_batches_are_not_a_finding_on_two_three_and_ten_classes() -> None:
    for data in ("sklearn:breast_cancer", "sklearn:wine", "sklearn:digits"):
        run = train_tiny({}, workload=tiny_tabular_workload(data=data), epochs=1, batch_size=16)
        assert order_findings(run) == [], data
