"""stale_gradients monitor: a step that starts with gradients left from earlier batches."""

from __future__ import annotations

import torch

from harness.plugins.monitors.stale_gradients import StaleGradients
from harness.testing import bare_state, tiny_tabular_workload, train_tiny


def test_left_over_gradients_at_a_step_start_are_found_zero_tensors_are_not() -> None:
    model = torch.nn.Linear(2, 1)
    state = bare_state(model=model)
    state.hparams.accumulation_steps = 2
    monitor = StaleGradients()
    monitor.on_train_start(state)
    model(torch.ones(1, 2)).sum().backward()
    for index in range(4):  # batches 0 and 2 start a step; 1 and 3 continue one (gradients expected)
        state.batch_index = index
        monitor.on_batch(state)
    state.epoch = 1
    monitor.on_epoch_end(state)
    assert [f.kind for f in state.findings] == ["stale_gradients"]
    assert "2 of 2 optimizer steps" in state.findings[0].message
    for p in model.parameters():
        p.grad.zero_()  # zero_grad(set_to_none=False)
    state.findings.clear()
    state.batch_index = 0
    monitor.on_batch(state)
    monitor.on_epoch_end(state)
    assert state.findings == []


def test_a_real_run_with_accumulation_has_no_finding() -> None:
    run = train_tiny({}, workload=tiny_tabular_workload(), epochs=1, batch_size=16, accumulation_steps=3)
    assert run.finding_epochs("stale_gradients") == []
