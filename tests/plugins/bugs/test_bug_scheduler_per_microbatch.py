"""bug_scheduler_per_microbatch: scheduler.step() on every micro-batch under gradient accumulation."""

from __future__ import annotations

import pytest

from harness.core.pluginmanager import PluginError
from harness.testing import tiny_tabular_workload, train_tiny


def test_the_schedule_runs_accumulation_steps_times_too_fast() -> None:
    run = train_tiny(
        {"linear_warmup": {"interval": "step"}, "bug_scheduler_per_microbatch": True},
        workload=tiny_tabular_workload(),
        epochs=2,
        batch_size=16,
        accumulation_steps=3,
        lr=1e-2,
    )
    assert run.state.scheduler.last_epoch == 2 * 9  # one step per batch, not per optimizer step (2 x 3)
    assert run.state.step == 2 * 3
    assert run.finding_epochs("schedule_mismatch") == [1, 2]
    assert run.finding_epochs("lr_zero") == [2]  # the whole schedule was over by epoch 2


def test_it_needs_a_scheduler() -> None:
    with pytest.raises(PluginError, match="needs a scheduler plugin"):
        train_tiny({"bug_scheduler_per_microbatch": True}, workload=tiny_tabular_workload(), epochs=1)
