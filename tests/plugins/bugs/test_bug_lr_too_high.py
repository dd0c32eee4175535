"""bug_lr_too_high: the configured LR times ``factor`` (100), set before the optimizer exists."""

from __future__ import annotations

from harness.testing import tiny_tabular_workload, train_tiny


def test_the_lr_is_100x_and_the_loss_climbs_back_up() -> None:
    run = train_tiny(
        {"bug_lr_too_high": True, "linear_warmup": {"interval": "step"}},
        workload=tiny_tabular_workload(),
        epochs=3,
        batch_size=16,
        lr=1e-2,
        warmup_ratio=0.0,
    )
    assert max(run.lr_per_step) == 1.0  # 1e-2 x 100
    kinds = {f["kind"] for f in run.findings}
    assert kinds & {"loss_oscillation", "loss_explosion"}, kinds


def test_the_factor_composes_with_lr_scale_in_any_order() -> None:
    run = train_tiny(
        {"bug_lr_too_high": {"factor": 100}, "lr_scale": {"factor": 0.01}},
        workload=tiny_tabular_workload(),
        epochs=1,
        batch_size=16,
        lr=1e-2,
    )
    assert run.lr_per_step[0] == 1e-2
