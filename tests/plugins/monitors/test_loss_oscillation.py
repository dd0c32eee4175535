"""loss_oscillation monitor: the training loss climbs back above its best, in units of its start."""

from __future__ import annotations

import pytest

from harness.plugins.monitors.loss_oscillation import LossOscillation, Params, windows
from harness.testing import feed_step_losses, tiny_tabular_workload, train_tiny


def scripted(epochs: list[list[float]], params=None):
    return feed_step_losses(LossOscillation(params), epochs)


def test_windows_split_an_epoch_and_a_short_tail_joins_the_last() -> None:
    assert windows([1, 2, 3, 4, 5, 6, 7, 8, 9], [1.0] * 9, 2, 4) == [(4, 1.0), (9, 1.0)]
    assert windows([1, 2], [1.0, float("nan")], 4, 4) == [(2, 1.0)]


def test_a_loss_that_climbs_back_by_a_third_of_its_start_oscillates() -> None:
    state = scripted([[2.0] * 4 + [1.0] * 4 + [1.8] * 4 + [1.0] * 4])
    assert [(f.kind, f.epoch, f.step) for f in state.findings] == [("loss_oscillation", 1, 12)]
    assert state.findings[0].value == pytest.approx(0.4)


def test_a_falling_or_noisy_near_zero_loss_does_not() -> None:
    assert scripted([[2.0, 1.5, 1.0, 0.8], [0.6, 0.5, 0.4, 0.3]]).findings == []
    assert scripted([[1.0] * 4, [0.01] * 4, [0.05] * 4, [0.02] * 4]).findings == []  # 5x up, but 0.04 of the start


def test_an_lr_far_too_high_oscillates_on_a_real_run() -> None:
    recipe = {"linear_warmup": {"interval": "step"}}
    run = train_tiny(
        {**recipe, "bug_lr_too_high": True}, workload=tiny_tabular_workload(), epochs=4, batch_size=16, lr=1e-2
    )
    assert run.finding_epochs("loss_oscillation")
    clean = train_tiny(recipe, workload=tiny_tabular_workload(), epochs=4, batch_size=16, lr=1e-2)
    assert clean.finding_epochs("loss_oscillation") == []


def test_the_rise_is_a_parameter() -> None:
    assert scripted([[2.0] * 4 + [1.0] * 4 + [1.8] * 4], Params(rise=0.5)).findings == []
