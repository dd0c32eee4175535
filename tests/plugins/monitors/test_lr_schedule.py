"""lr_schedule monitor: schedule_mismatch (scheduler vs optimizer steps) and lr_zero."""

from __future__ import annotations

from harness.testing import tiny_tabular_workload, tiny_workload, train_tiny


def test_a_per_step_warmup_stepped_per_epoch() -> None:
    run = train_tiny(
        {"linear_warmup": {"interval": "epoch"}}, workload=tiny_tabular_workload(), epochs=3, batch_size=16
    )
    assert run.finding_epochs("lr_zero") == [1]  # the whole first epoch at LR 0
    assert run.finding_epochs("schedule_mismatch") == [2, 3]  # still rising after the planned warmup
    first = next(f for f in run.findings if f["kind"] == "schedule_mismatch")
    assert "still rising after the planned warmup" in first["message"]


def test_per_step_stepping_and_other_schedules_are_fine() -> None:
    for plugins in (
        {"linear_warmup": {"interval": "step"}},
        {"warmup_cosine": True},
        {"plateau": {"metric": "accuracy"}},
        {},
    ):
        run = train_tiny(plugins, workload=tiny_tabular_workload(), epochs=3, batch_size=16)
        assert run.finding_epochs("lr_zero") == run.finding_epochs("schedule_mismatch") == [], plugins


def test_two_stage_keeps_a_group_at_lr_0_on_purpose() -> None:
    run = train_tiny({"two_stage": {"stage1_epochs": 1, "stage1_lr": 1e-3}}, workload=tiny_workload(), epochs=2)
    assert run.finding_epochs("lr_zero") == run.finding_epochs("schedule_mismatch") == []
