"""split_shift monitor: validation inputs prepared differently from training, seen before training."""

from __future__ import annotations

from typing import Any

import torch

from harness.plugins.monitors.split_shift import SplitShift
from harness.testing import train_tiny
from tests.plugins.monitors.test_data_checks import altered


def shift_findings(run: Any) -> list[tuple[str, int]]:
    return [(f.kind, f.epoch) for f in run.state.findings if f.kind == "data_split_shift"]


def unscaled_validation(d: dict[str, Any]) -> None:
    d["val_x"] = d["val_x"] * 1000.0  # millivolts for volts, in one split


def permuted_validation_columns(d: dict[str, Any]) -> None:
    d["val_x"] = d["val_x"][:, torch.randperm(d["val_x"].shape[1], generator=torch.Generator().manual_seed(0))]


def test_a_validation_split_on_another_scale_is_found_before_training() -> None:
    run = train_tiny({}, workload=altered(unscaled_validation), epochs=1, batch_size=16)
    assert shift_findings(run) == [("data_split_shift", 0)]
    assert "prepared like the training split" in next(
        f.message for f in run.state.findings if f.kind == "data_split_shift"
    )


def test_scrambled_features_whose_own_statistics_match_are_found_by_their_correlations() -> None:
    train = torch.randn(400, 6, generator=torch.Generator().manual_seed(1))
    train[:, 1] = train[:, 0] + 0.1 * train[:, 1]  # features 0 and 1 move together
    val = train[:200].clone()[:, [0, 2, 1, 3, 4, 5]]  # the same items, columns 1 and 2 swapped
    message = SplitShift().judge_structure(train, val)
    assert message is not None and "correlated differently" in message[0]
    assert SplitShift().judge_structure(train, train[200:].clone()) is None  # another sample of the same data


def test_a_clean_split_and_a_permutation_of_equal_columns_are_not_findings() -> None:
    assert shift_findings(train_tiny({}, workload=altered(lambda d: None), epochs=1, batch_size=16)) == []
    run = train_tiny({}, workload=altered(permuted_validation_columns), epochs=1, batch_size=16)
    assert shift_findings(run) == [("data_split_shift", 0)]  # wine's columns differ: permuting them is a shift
