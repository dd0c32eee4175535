"""data_checks monitor: the datasets checked once before training, one finding per kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from harness.core.plugin import Plugin, hookimpl
from harness.testing import tiny_tabular_workload, train_tiny
from harness.workloads.tabular import TabularWorkload


def altered(change: Callable[[dict[str, Any]], None]) -> TabularWorkload:
    """wine's workload with its data changed by ``change`` (the dict of train_x/train_y/val_x/val_y)."""

    class Altered(TabularWorkload):
        def _build_data(self) -> dict[str, Any]:
            data = super()._build_data()
            data = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in data.items()}
            change(data)
            return data

    return Altered(tiny_tabular_workload().params)


def nan_feature(d: dict[str, Any]) -> None:
    d["train_x"][3, 2] = float("nan")


def drop_class_2_from_validation(d: dict[str, Any]) -> None:
    keep = d["val_y"] != 2
    d["val_x"], d["val_y"] = d["val_x"][keep], d["val_y"][keep]


def negative_label(d: dict[str, Any]) -> None:
    d["train_y"][0] = -1  # an 'unknown' label kept in the data


def repeated_item(d: dict[str, Any]) -> None:
    d["train_x"][: int(0.7 * len(d["train_x"]))] = d["train_x"][0]


def raw_feature(d: dict[str, Any]) -> None:
    d["train_x"][:, 4] *= 5000.0
    d["val_x"][:, 4] *= 5000.0


def sorted_by_label(d: dict[str, Any]) -> None:
    order = torch.argsort(d["train_y"], stable=True)
    d["train_x"], d["train_y"] = d["train_x"][order], d["train_y"][order]


class NoShuffle(Plugin):
    """Test double. Pathology: a loader that does not shuffle. Signal: none. Fix: none."""

    name = "no_shuffle"

    @hookimpl
    def on_setup(self, state: Any) -> None:
        train = state.train_loader
        state.train_loader = DataLoader(train.dataset, batch_size=train.batch_size, collate_fn=train.collate_fn)


def data_findings(run) -> list[tuple[str, int]]:
    return [(f["kind"], f["epoch"]) for f in run.findings if f["plugin"] == "data_checks"]


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (nan_feature, "data_non_finite"),
        (drop_class_2_from_validation, "data_missing_class"),
        (repeated_item, "data_repeated_item"),
        (raw_feature, "data_feature_scale"),
    ],
)
def test_each_broken_dataset_is_found_before_training(change, kind) -> None:
    run = train_tiny({}, workload=altered(change), epochs=1, batch_size=16)
    assert data_findings(run) == [(kind, 0)], run.findings


def test_a_label_the_model_cannot_output_is_recorded_before_the_loss_fails_on_it(monkeypatch) -> None:
    from harness.core.contract import ContractError

    with pytest.raises(ContractError, match="label values -1 are outside 0..2"):  # the contract refuses it first
        train_tiny({}, workload=altered(negative_label), epochs=1, batch_size=16)
    from harness.plugins.monitors.data_checks import DataChecks
    from harness.testing import make_state

    # a workload the contract cannot check (its own collate) still gets the finding
    monkeypatch.setattr("harness.core.contract.check_contract", lambda *args, **kwargs: None)
    state = make_state(altered(negative_label), batch_size=16)
    DataChecks().on_train_start(state)
    assert [(f.kind, f.epoch) for f in state.findings] == [("data_label_range", 0)]
    assert "from -1 to 2, outside 0..2" in state.findings[0].message


def test_sorted_labels_are_a_finding_only_when_the_loader_does_not_shuffle() -> None:
    workload = altered(sorted_by_label)
    assert data_findings(train_tiny({}, workload=workload, epochs=1, batch_size=16)) == []  # the loop shuffles
    run = train_tiny({"no_shuffle": True}, extra=(NoShuffle,), workload=workload, epochs=1, batch_size=16)
    assert data_findings(run) == [("data_ordered_by_label", 0)]


def test_clean_data_of_three_workloads_has_no_finding() -> None:
    from harness.testing import tiny_patch_workload, tiny_workload

    for workload in (tiny_tabular_workload(), tiny_workload(), tiny_patch_workload()):
        run = train_tiny({}, workload=workload, epochs=1, batch_size=32)
        assert data_findings(run) == [], run.findings
