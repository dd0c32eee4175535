"""mode_collapse monitor: the outputs' validation std below 1e-4."""

from __future__ import annotations

from harness.plugins.monitors.mode_collapse import ModeCollapse
from harness.testing import bare_state, tiny_workload, train_tiny


def feed(monitor: ModeCollapse, stds: list[float | None]):
    state = bare_state()
    for epoch, std in enumerate(stds, start=1):
        state.epoch = epoch
        monitor.on_epoch_end(state, {} if std is None else {"output_std": std})
    return state


def test_the_incidents_std_curve_is_flagged_from_the_epoch_it_falls_under_1e_4() -> None:
    state = feed(ModeCollapse(), [0.05, 2e-3, 9e-5, 1e-5, float("nan")])
    assert [(f.kind, f.epoch, f.value) for f in state.findings] == [
        ("mode_collapse", 3, 9e-5),
        ("mode_collapse", 4, 1e-5),
    ]


def test_threshold_and_metric_are_configurable() -> None:
    state = feed(ModeCollapse(ModeCollapse.Params(min_std=1e-3)), [0.05, 2e-4])
    assert [f.epoch for f in state.findings] == [2]
    monitor = ModeCollapse(ModeCollapse.Params(metric="image_logit_std"))
    state = bare_state(epoch=1)
    monitor.on_epoch_end(state, {"output_std": 0.0, "image_logit_std": 1e-6})
    assert [f.value for f in state.findings] == [1e-6]


def test_a_workload_without_output_std_is_skipped() -> None:
    assert feed(ModeCollapse(), [None, None]).findings == []
    run = train_tiny({}, workload=tiny_workload(), epochs=1)
    assert run.trace["on_epoch_end"]["mode_collapse"] == 1 and run.finding_epochs("mode_collapse") == []


def test_a_regression_whose_predictions_barely_vary_is_flagged_against_its_targets() -> None:
    monitor, state = ModeCollapse(), bare_state(epoch=1)
    monitor.on_epoch_end(state, {"pred_std": 0.5, "target_std": 0.9})
    assert state.findings == []
    state.epoch = 2
    monitor.on_epoch_end(state, {"pred_std": 0.05, "target_std": 0.9})
    assert [(f.kind, f.epoch) for f in state.findings] == [("mode_collapse", 2)]
    assert "5.6% as much as the targets" in state.findings[0].message
    monitor.on_epoch_end(state, {"pred_std": 0.2, "target_std": 0.9})  # 22%: above the 20% default
    assert len(state.findings) == 1
