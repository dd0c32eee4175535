"""train_mode monitor: the model's training flag during training batches."""

from __future__ import annotations

import torch

from harness.plugins.monitors.train_mode import TrainMode
from harness.testing import bare_state


def test_eval_mode_batches_are_counted_and_reported_once_per_epoch() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    state = bare_state(model=model)
    monitor = TrainMode()
    state.epoch = 1
    for training in (True, False, False):
        model.train(training)
        monitor.on_batch_end(state)
    monitor.on_epoch_end(state)
    assert [(f.kind, f.value) for f in state.findings] == [("eval_mode", 2 / 3)]
    assert "1 Dropout/BatchNorm modules" in state.findings[0].message
    state.epoch = 2
    model.train()
    monitor.on_batch_end(state)
    monitor.on_epoch_end(state)
    assert len(state.findings) == 1


def test_submodules_in_eval_mode_on_purpose_are_not_a_finding() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    model.train()
    model[1].eval()  # frozen BatchNorm statistics while fine-tuning
    state = bare_state(model=model)
    monitor = TrainMode()
    monitor.on_batch_end(state)
    monitor.on_epoch_end(state)
    assert state.findings == []
