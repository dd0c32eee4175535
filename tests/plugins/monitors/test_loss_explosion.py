"""loss_explosion monitor: a step loss > 100 or > 10x the start, checked once per epoch."""

from __future__ import annotations

import math

import torch

from harness.plugins.monitors.loss_explosion import LossExplosion, first_explosion
from harness.testing import bare_state, feed_step_losses, tiny_patch_workload, tiny_workload, train_tiny


def feed(monitor: LossExplosion, epochs: list[list[float]]):
    """Scripted losses, one list per epoch; returns the state holding the findings."""
    return feed_step_losses(monitor, epochs)


def test_the_reports_curve_4_to_500_is_flagged_at_the_step_it_happens() -> None:
    state = feed(LossExplosion(), [[4.0, 4.2, 3.9], [4.1, 520.0, 610.0], [4.0, 3.8, 3.7]])
    [finding] = state.findings
    assert (finding.kind, finding.epoch, finding.step, finding.value) == ("loss_explosion", 2, 5, 520.0)
    assert "> 100" in finding.message and "2 of 3 steps" in finding.message


def test_growth_beyond_10x_the_start_is_flagged_below_100() -> None:
    state = feed(LossExplosion(), [[0.5, 0.6], [4.0, 6.0, 0.4]])
    assert [(f.epoch, f.step, f.value) for f in state.findings] == [(2, 4, 6.0)]
    assert "10 x start 0.5" in state.findings[0].message


def test_thresholds_are_configurable_and_nan_is_left_to_the_nan_monitor() -> None:
    params = LossExplosion.Params(max_loss=10.0, growth=None, start_steps=2)
    state = feed(LossExplosion(params), [[1.0, 2.0, float("nan"), 11.0]])
    assert [(f.step, f.value) for f in state.findings] == [(4, 11.0)]
    assert first_explosion([math.nan, 1e9], start=None, max_loss=None, growth=10) == (None, 0)


def test_a_large_but_shrinking_loss_from_step_1_is_flagged_every_epoch() -> None:
    state = feed(LossExplosion(), [[3.9e5, 3.8e5], [3.7e5]])
    assert [(f.epoch, f.step) for f in state.findings] == [(1, 1), (2, 3)]


def test_steps_of_a_diverged_epoch_are_checked_at_train_end() -> None:
    monitor = LossExplosion()
    state = bare_state(epoch=1)
    for step, loss in enumerate([1.0, 200.0, float("inf")], start=1):
        state.step = step
        monitor.on_step(state, torch.tensor(loss))
    monitor.on_train_end(state)  # the loop skips on_epoch_end when the loss is non-finite
    assert [(f.epoch, f.step) for f in state.findings] == [(1, 2)]


def test_in_runs_raw_mse_distillation_explodes_and_devign_does_not() -> None:
    broken = train_tiny({"distillation": {"loss": "mse"}}, workload=tiny_patch_workload(), epochs=2, batch_size=32)
    assert broken.finding_epochs("loss_explosion") == [1, 2]
    devign = train_tiny({}, workload=tiny_workload(), epochs=2)  # the issue-11 workload: loss ~0.7
    assert devign.finding_epochs("loss_explosion") == []
    assert devign.trace["on_step"]["loss_explosion"] == devign.state.step
