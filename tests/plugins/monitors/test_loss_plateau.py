"""loss_plateau monitor: the loss stalls far above chance x 0.7 after dropping more than 10%."""

from __future__ import annotations

import torch

from harness.plugins.monitors.loss_plateau import LossPlateau
from harness.testing import bare_state, feed_step_losses, tiny_tabular_workload, train_tiny


def scripted(epochs: list[list[float]], classes: int = 10):
    state = bare_state()
    state.hparams.total_steps = sum(len(e) for e in epochs)
    monitor = LossPlateau()
    monitor.classes = classes
    return feed_step_losses(monitor, epochs, state)


def test_a_loss_that_drops_14_percent_and_stalls_is_a_plateau() -> None:
    state = scripted([[2.3, 2.3, 2.3, 2.1], [2.0, 2.0, 1.99, 1.98], [1.98, 1.97, 1.98, 1.97]])
    assert [(f.kind, f.epoch) for f in state.findings] == [("loss_plateau", 3)]  # epoch 2 still gained 11%
    assert "x log(10)" in state.findings[0].message


def test_a_run_still_improving_or_converged_or_never_dropping_is_not() -> None:
    assert scripted([[2.3] * 4, [1.8] * 4, [1.2] * 4]).findings == []  # still improving
    assert scripted([[2.3] * 4, [0.3] * 4, [0.29] * 4]).findings == []  # converged below 0.7 x log(10)
    assert scripted([[2.3] * 4, [2.25] * 4, [2.25] * 4]).findings == []  # never dropped 10%: no_convergence's


def test_a_real_bottlenecked_run_plateaus_and_a_clean_one_does_not() -> None:
    digits = {"data": "sklearn:digits", "max_samples": 600}
    narrow = tiny_tabular_workload(hidden_sizes=[1], **digits)
    run = train_tiny({}, workload=narrow, epochs=6, batch_size=32, lr=3e-3)
    assert run.finding_epochs("loss_plateau"), (run.metric("loss"), run.metric("accuracy"))
    clean = train_tiny({}, workload=tiny_tabular_workload(**digits), epochs=4, batch_size=32, lr=3e-3)
    assert clean.finding_epochs("loss_plateau") == []


def test_a_workload_that_is_not_a_classifier_is_not_judged() -> None:
    monitor = LossPlateau()
    state = bare_state()
    state.hparams.total_steps = 8
    feed_step_losses(monitor, [[2.3] * 4, [2.0] * 4], state)
    assert monitor.classes is None and state.findings == []
    assert isinstance(torch.tensor(0.0), torch.Tensor)
