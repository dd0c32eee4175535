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
    state = feed(NoSignal(), [0.40, 0.48, 0.50, 0.61, 0.47])
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


def test_an_undefined_auc_says_why_once_a_class_absent_from_validation() -> None:
    """A real run whose validation split lacks class 2: AUC is NaN every epoch; one finding says why."""
    from typing import Any

    from harness.testing import tiny_tabular_workload, train_tiny
    from harness.workloads.tabular import TabularWorkload

    class NoClass2InValidation(TabularWorkload):
        def _build_data(self) -> dict[str, Any]:
            data = dict(super()._build_data())
            keep = data["val_y"] != 2
            data["val_x"], data["val_y"] = data["val_x"][keep], data["val_y"][keep]
            return data

    run = train_tiny({}, workload=NoClass2InValidation(tiny_tabular_workload().params), epochs=3, batch_size=16)
    found = [(f["kind"], f["epoch"], f["message"]) for f in run.findings if f["plugin"] == "no_signal"]
    assert [(k, e) for k, e, _ in found] == [("no_signal", 1)]
    assert found[0][2].startswith("AUC undefined: class 2 absent from validation")
    clean = train_tiny({}, workload=tiny_tabular_workload(), epochs=3, batch_size=16)
    assert clean.finding_epochs("no_signal") == []


def test_an_undefined_auc_from_non_finite_logits() -> None:
    state = feed(NoSignal(), [float("nan"), float("nan")])
    assert [(f.kind, f.epoch) for f in state.findings] == [("no_signal", 1)]
    assert "undefined" in state.findings[0].message
    state = bare_state(epoch=1)
    NoSignal().on_epoch_end(state, {"auc": float("nan"), "val_loss": float("nan")})
    assert "not finite" in state.findings[0].message
