"""Numeric outcome lines (``outcome.peak_rss_mb <= 900``), error lines (``error.type ==
AttributeError``) and a run that is expected to end in an error (``status == error``)."""

from __future__ import annotations

import pytest

from harness.judging.verdicts import run_failed, run_ok, summarize_variant
from harness.scenario.expectations import ExpectationSyntaxError, evaluate_all, expects_failure, parse_expectation

RUN = {
    "status": "ok",
    "history": [{"epoch": 1, "f1": 0.9}],
    "outcomes": {"peak_rss_mb": 812.5, "peak_workers": 0, "roundtrip": "ok", "flag": True},
}


@pytest.mark.parametrize(
    ("line", "passed"),
    [
        ("outcome.peak_rss_mb <= 900", True),
        ("outcome.peak_rss_mb < 812.5", False),
        ("outcome.peak_rss_mb > 800", True),
        ("outcome.peak_rss_mb >= 1e3", False),
        ("outcome.peak_workers == 0", True),
        ("outcome.peak_workers == 0.0", True),  # numbers compare as numbers
        ("outcome.peak_workers != 0", False),
        ("outcome.roundtrip == ok", True),  # words as before
        ("outcome.roundtrip >= 1", False),  # a word is no number: an order fails
        ("outcome.missing <= 1", False),
        ("outcome.missing != ok", True),
        ("outcome.flag == True", True),
        ("outcome.flag > 0", False),  # a boolean is not a number here
    ],
)
def test_outcome_lines(line: str, passed: bool) -> None:
    assert parse_expectation(line).evaluate(RUN)[0] is passed


def test_an_order_needs_a_number() -> None:
    with pytest.raises(ExpectationSyntaxError, match="compares numbers"):
        parse_expectation("outcome.peak_rss_mb <= lots")


ERRORED = {
    "status": "error",
    "history": [],
    "outcomes": {"peak_workers": 0},
    "error": {
        "message": "AttributeError: Can't pickle local object",
        "type": "AttributeError",
        "plugin": "ending",
        "hook": "on_step",
    },
}


@pytest.mark.parametrize(
    ("line", "passed", "observed"),
    [
        ("error.type == AttributeError", True, "AttributeError"),
        ("error.type in [AttributeError, PicklingError]", True, "AttributeError"),
        ("error.type != AttributeError", False, "AttributeError"),
        ("error.plugin == ending", True, "ending"),
        ("error.hook in [on_step, on_batch]", True, "on_step"),
    ],
)
def test_error_lines(line: str, passed: bool, observed: str) -> None:
    assert parse_expectation(line).evaluate(ERRORED) == (passed, observed)


def test_error_lines_on_a_run_without_an_error() -> None:
    assert parse_expectation("error.type == AttributeError").evaluate(RUN) == (False, None)
    assert parse_expectation("error.type != AttributeError").evaluate(RUN) == (True, None)


def _record(status_line: str, *others: str) -> dict:
    lines = [parse_expectation(text) for text in (status_line, *others)]
    record = dict(ERRORED)
    record["expectations"] = evaluate_all(lines, record, "2.13.0")
    return record


def test_an_expected_error_is_judged_by_its_lines() -> None:
    record = _record("status == error", "error.type == AttributeError", "outcome.peak_workers == 0")
    assert expects_failure(record) and not run_failed(record) and run_ok(record)
    summary = summarize_variant([record], [])
    assert summary["passed"] and summary["passed_runs"] == 1
    assert all(row["ok"] for row in summary["expectations"])


def test_an_expected_error_still_fails_a_wrong_line() -> None:
    record = _record("status == error", "error.type == KeyError")
    assert not run_failed(record) and not run_ok(record)
    assert not summarize_variant([record], [])["passed"]


@pytest.mark.parametrize("line", ["status == ok", "status != ok", "status != diverged", "final.f1 >= 0.5"])
def test_an_error_no_line_names_fails_the_run(line: str) -> None:
    """Only a line that names the status expects it: ``status != ok`` admits an error but does
    not ask for one, so an error still fails the run whatever else holds."""
    record = _record(line, "outcome.peak_workers == 0")
    assert run_failed(record) and not run_ok(record)
    assert not summarize_variant([record], [])["passed"]


def test_an_or_line_expects_the_error_when_its_status_side_decided() -> None:
    assert expects_failure(_record("status in [error, timeout] or final.f1 >= 0.5"))
    assert not expects_failure(_record("final.f1 >= 0.5 or outcome.peak_workers == 0"))
