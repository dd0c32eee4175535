"""convergence monitor: bad_initial_loss (start far above log C) and no_convergence."""

from __future__ import annotations

import math

from harness.plugins.monitors.convergence import Convergence, Params
from harness.testing import bare_state, feed_step_losses, tiny_tabular_workload, train_tiny


def scripted(epochs: list[list[float]], params=None, total_steps: int | None = None):
    state = bare_state()
    state.hparams.total_steps = total_steps or sum(len(e) for e in epochs)
    return feed_step_losses(Convergence(params), epochs, state)


def test_a_flat_loss_after_half_the_run_is_no_convergence() -> None:
    state = scripted([[1.1, 1.1, 1.09, 1.1], [1.1, 1.08, 1.1, 1.09], [1.1, 1.09, 1.1, 1.1]])
    assert [(f.kind, f.epoch) for f in state.findings] == [("no_convergence", 2), ("no_convergence", 3)]


def test_a_falling_loss_is_not_and_early_epochs_are_not_judged() -> None:
    assert scripted([[1.1, 1.0, 0.9, 0.8], [0.7, 0.6, 0.5, 0.4]]).findings == []
    assert scripted([[1.1] * 4, [1.1] * 4], total_steps=32).findings == []  # a quarter of the run: too early


def test_only_the_last_quarter_of_an_epoch_counts() -> None:
    # a transformer leaving its plateau late in the epoch: the tail is well below the start
    assert scripted([[1.1] * 4, [1.1] * 6 + [0.5, 0.4]]).findings == []


def test_bad_initial_loss_from_a_real_run_with_huge_logits() -> None:
    run = train_tiny({"bug_unnormalised_inputs": True}, workload=tiny_tabular_workload(), epochs=1, batch_size=16)
    (finding,) = [f for f in run.findings if f["kind"] == "bad_initial_loss"]
    assert finding["value"] > 3 * math.log(3) and "log(3)" in finding["message"]
    # the ratio evidence reads is recorded, not left in the message
    assert finding["detail"] == {"ratio_to_log_c": finding["value"] / math.log(3), "classes": 3}
    clean = train_tiny({}, workload=tiny_tabular_workload(), epochs=1, batch_size=16)
    assert clean.finding_epochs("bad_initial_loss") == []


def test_parameters() -> None:
    losses = [[1.0] * 4, [1.0] * 4, [0.95] * 4]  # judged at the end only (after_share 0.9): 5% lower
    assert scripted(losses, Params(min_drop=0.01, after_share=0.9)).findings == []
    assert [f.epoch for f in scripted(losses, Params(after_share=0.9)).findings] == [3]
