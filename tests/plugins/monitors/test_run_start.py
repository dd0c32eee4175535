"""RunStart: the loss at a run's start that five loss monitors judge against, fixed once."""

from __future__ import annotations

from harness.plugins._shared.monitors import RunStart

NAN, INF = float("nan"), float("inf")


def test_the_start_is_the_mean_of_the_first_steps_values_and_is_fixed_once() -> None:
    start = RunStart(3)
    assert start.value is None
    assert start.fix([3.0, 2.0, 1.0, 100.0]) is True
    assert start.value == 2.0
    assert start.fix([50.0, 60.0, 70.0]) is False  # a later epoch never moves it
    assert start.value == 2.0


def test_it_stays_none_until_an_epoch_has_a_finite_value() -> None:
    start = RunStart(3)
    assert start.fix([]) is False
    assert start.fix([NAN, INF, -INF]) is False
    assert start.value is None
    assert start.fix([NAN, 4.0, INF, 2.0, 9.0, 7.0]) is True  # non-finite values are skipped, not counted
    assert start.value == 5.0


def test_an_epoch_shorter_than_steps_fixes_the_start_from_what_it_has() -> None:
    start = RunStart(3)
    assert start.fix([NAN, 6.0]) is True
    assert start.value == 6.0
    assert start.fix([1.0, 1.0, 1.0]) is False
    assert start.value == 6.0


def test_finite_values_whose_mean_overflows_give_an_infinite_start_as_before() -> None:
    start = RunStart(2)
    start.fix([1e308, 1e308])
    assert start.value == INF  # convergence refuses to judge against it; the others compare as they did


def test_a_start_measured_otherwise_is_fixed_once_too() -> None:
    start = RunStart()
    assert start.fix_at(1.5) is True
    assert start.fix_at(0.5) is False
    assert start.fix([9.0]) is False
    assert start.value == 1.5
    later = RunStart()
    assert later.fix([NAN, 2.5]) is True
    assert later.fix_at(8.0) is False and later.value == 2.5
