"""Tests of the example plugin, written as a plugin author would with harness.testing."""

from __future__ import annotations

from harness_example_plugin import LRFloor, floor_lr

from harness.testing import check_plugin


def test_plugin_is_well_formed() -> None:
    assert check_plugin(LRFloor) == []


def test_floor_lr_raises_only_groups_below_the_floor() -> None:
    groups = [{"lr": 0.0}, {"lr": 5e-4}]
    assert floor_lr(groups, 1e-4) == 1
    assert [g["lr"] for g in groups] == [1e-4, 5e-4]


def test_floor_lifts_the_zero_lr_of_an_epoch_stepped_warmup(tiny_run) -> None:
    # total 6 steps, warmup 3: stepped per epoch, the LR is exactly 0 for all of epoch 1
    broken = tiny_run({"linear_warmup": {"interval": "epoch"}}, extra=(LRFloor,), epochs=2, warmup_ratio=0.5)
    assert broken.lr_per_step[:3] == [0.0, 0.0, 0.0]
    assert not broken.acted("lr_floor")

    floored = tiny_run(
        {"linear_warmup": {"interval": "epoch"}, "lr_floor": {"min_lr": 1e-4}},
        extra=(LRFloor,),
        epochs=2,
        warmup_ratio=0.5,
    )
    assert floored.lr_per_step[:3] == [1e-4, 1e-4, 1e-4]
    assert floored.lr_per_step[3:] == broken.lr_per_step[3:]  # above the floor: untouched
    assert floored.acted("lr_floor", "on_before_optimizer_step")
    assert floored.trace["on_before_optimizer_step"]["lr_floor"] == 6  # before every step
