"""bug_no_zero_grad: optimizer.zero_grad() becomes a no-op, so gradients pile up step after step."""

from __future__ import annotations

from harness.testing import tiny_tabular_workload, train_tiny

CLEAN = {"linear_warmup": {"interval": "step"}}


def test_gradients_accumulate_and_stale_gradients_sees_it_in_epoch_1() -> None:
    run = train_tiny(
        {**CLEAN, "bug_no_zero_grad": True}, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2
    )
    assert run.status == "ok" and run.acted("bug_no_zero_grad", "on_train_start")
    assert run.finding_epochs("stale_gradients") == [1, 2]
    # the norm of the summed gradient grows: epoch 2's steps carry epoch 1's gradients too
    assert run.history[1]["grad_norm_mean"] > 1.5 * run.history[0]["grad_norm_mean"]


def test_without_the_bug_no_step_starts_with_gradients() -> None:
    run = train_tiny(CLEAN, workload=tiny_tabular_workload(), epochs=2, batch_size=16, lr=1e-2)
    assert run.findings == []
