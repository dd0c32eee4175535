"""generalisation monitor: train_val_divergence (training loss halves, validation stays at the prior)."""

from __future__ import annotations

from typing import Any

import torch

from harness.plugins.monitors.generalisation import Generalisation
from harness.testing import bare_state, tiny_tabular_workload, train_tiny
from harness.workloads.tabular import TabularWorkload


class ValidationLabelsShuffled(TabularWorkload):
    """wine with the validation labels permuted apart from their inputs (a split prepared differently)."""

    def _build_data(self) -> dict[str, Any]:
        data = super()._build_data()
        order = torch.randperm(len(data["val_y"]), generator=torch.Generator().manual_seed(3))
        data["val_y"] = data["val_y"][order]
        return data


def test_a_run_that_learns_its_training_set_but_not_validation_is_found() -> None:
    broken = ValidationLabelsShuffled(tiny_tabular_workload().params)
    run = train_tiny({}, workload=broken, epochs=4, batch_size=16, lr=1e-2)
    epochs = run.finding_epochs("train_val_divergence")
    assert epochs and min(epochs) >= 2, run.findings
    finding = next(f for f in run.findings if f["kind"] == "train_val_divergence")
    assert "majority class" in finding["message"]


def test_a_clean_run_is_not() -> None:
    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=4, batch_size=16, lr=1e-2)
    assert run.finding_epochs("train_val_divergence") == []
    assert run.history[-1]["accuracy"] > 0.8


def test_a_rising_validation_loss_while_training_falls() -> None:
    state = bare_state()
    monitor = Generalisation()
    for epoch, (losses, val_loss) in enumerate([([2.0, 2.0, 2.0, 1.5], 1.0), ([0.5, 0.4, 0.3, 0.2], 1.8)], start=1):
        state.epoch = epoch
        for loss in losses:
            state.step += 1
            monitor.on_step(state, torch.tensor(loss))
        monitor.on_epoch_end(state, {"val_loss": val_loss})  # no accuracy: not a classifier's record
    assert [(f.kind, f.epoch) for f in state.findings] == [("train_val_divergence", 2)]
    assert "1.8 x its first" in state.findings[0].message


def test_a_workload_without_metrics_it_knows_is_skipped() -> None:
    state = bare_state(epoch=3)
    monitor = Generalisation()
    for step, loss in enumerate([2.0, 2.0, 2.0, 0.1], start=1):
        state.step = step
        monitor.on_step(state, torch.tensor(loss))
    monitor.on_epoch_end(state, {"output_std": 0.3})
    assert state.findings == []
