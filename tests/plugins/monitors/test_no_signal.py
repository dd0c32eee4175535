"""no_signal monitor: validation AUC <= 0.5 after epoch 2."""

from __future__ import annotations

from harness.plugins.monitors.no_signal import NoSignal
from harness.testing import bare_state


def feed(monitor: NoSignal, aucs: list[float]):
    state = bare_state()
    for epoch, auc in enumerate(aucs, start=1):
        state.epoch = epoch
        monitor.on_epoch_end(state, {"auc": auc})
    return state


def test_chance_auc_is_flagged_only_after_epoch_2() -> None:
    state = feed(NoSignal(), [0.40, 0.48, 0.50, 0.61, 0.47, float("nan")])
    assert [(f.kind, f.epoch, f.value) for f in state.findings] == [("no_signal", 3, 0.50), ("no_signal", 5, 0.47)]


def test_threshold_start_and_metric_are_configurable() -> None:
    state = feed(NoSignal(NoSignal.Params(max_auc=0.55, after_epoch=0)), [0.52, 0.7])
    assert [f.epoch for f in state.findings] == [1]
    state = bare_state(epoch=5)
    NoSignal(NoSignal.Params(metric="f1")).on_epoch_end(state, {"auc": 0.9, "f1": 0.0})
    assert [f.value for f in state.findings] == [0.0]
    state = bare_state(epoch=5)
    NoSignal().on_epoch_end(state, {"f1": 0.0})  # no auc: nothing to say
    assert state.findings == []
