"""warmup_cosine: linear warmup, then a cosine floored at 0.1, stepped per optimizer step."""

from __future__ import annotations

import math

import pytest

from harness.core.pluginmanager import PluginConflictError
from harness.plugins._shared.schedules import warmup_cosine_factor
from harness.testing import tiny_patch_workload, train_tiny


def test_factor_values() -> None:
    assert warmup_cosine_factor(0, 10, 110) == 0.0  # the report's ramp starts at 0
    assert warmup_cosine_factor(5, 10, 110) == 0.5
    assert warmup_cosine_factor(10, 10, 110) == 1.0
    assert warmup_cosine_factor(60, 10, 110) == pytest.approx(0.5)  # half-way down the cosine
    assert warmup_cosine_factor(100, 10, 110) == pytest.approx(0.1)  # floored, not ~0.02
    assert warmup_cosine_factor(110, 10, 110) == 0.1
    assert warmup_cosine_factor(3, 0, 10) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)))


def test_lr_per_step_follows_the_schedule_in_a_run() -> None:
    run = train_tiny(
        {"warmup_cosine": {"warmup_epochs": 0.5, "floor": 0.1}},
        workload=tiny_patch_workload(),
        epochs=4,
        batch_size=16,
        lr=0.01,
    )  # 8 steps per epoch: warmup 4 steps, 32 in all
    assert run.lr_per_step[:5] == pytest.approx([0.0, 0.0025, 0.005, 0.0075, 0.01])  # warmup: 4 steps
    # lr_per_step holds the LR each optimizer step used (the scheduler steps after it)
    expected = [0.01 * warmup_cosine_factor(step, 4, 32, 0.1) for step in range(32)]
    assert run.lr_per_step == pytest.approx(expected)
    assert run.trace["on_step"]["warmup_cosine"] == 32


def test_a_second_scheduler_plugin_is_a_configuration_error() -> None:
    """Both answer make_scheduler (one slot): refused before training, naming both and the hook."""
    with pytest.raises(
        PluginConflictError, match="'warmup_cosine' and 'plateau' both answer the firstresult hook 'make_scheduler'"
    ):
        train_tiny({"warmup_cosine": True, "plateau": True}, workload=tiny_patch_workload(), epochs=1)
