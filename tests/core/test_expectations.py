from __future__ import annotations

import re

import pytest

from harness.scenario.expectations import ExpectationSyntaxError, evaluate_all, parse_expectation

RUN = {
    "status": "stopped",
    "steps": 120,
    "history": [
        {"epoch": 1, "f1": 0.43, "loss": 0.65, "pred_positive_share": 0.3},
        {"epoch": 2, "f1": 0.001, "loss": 0.41, "pred_positive_share": 0.01},
        {"epoch": 3, "f1": 0.0, "loss": 0.38, "pred_positive_share": 0.0},
    ],
    "findings": [{"kind": "collapse", "epoch": 3}],
    "outcomes": {"checkpoint_roundtrip": "fails"},
}


@pytest.mark.parametrize(
    ("text", "passed", "observed"),
    [
        ("final.f1 <= 0.05", True, 0.0),
        ("first.f1 > 0.4", True, 0.43),
        ("max.f1 >= 0.5", False, 0.43),
        ("min.loss < 0.4", True, 0.38),
        ("epoch[2].f1 == 0.001", True, 0.001),
        ("epoch[9].f1 >= 0", False, None),
        ("final.pred_positive_share between 0.3 and 0.6", False, 0.0),
        ("first.pred_positive_share between 0.3 and 0.6", True, 0.3),
        ("finding collapse by epoch 2", False, "no collapse"),
        ("finding collapse by epoch 3", True, "collapse at epochs [3]"),
        ("finding collapse", True, "collapse at epochs [3]"),
        ("no finding collapse after epoch 2", False, "collapse at epochs [3]"),
        ("no finding collapse after epoch 3", True, "no collapse"),
        ("status == ok", False, "stopped"),
        ("status != diverged", True, "stopped"),
        ("status in [ok, stopped]", True, "stopped"),
        ("epochs_run <= 3", True, 3),
        ("steps > 200", False, 120),
        ("outcome.checkpoint_roundtrip == fails", True, "fails"),
        ("outcome.checkpoint_roundtrip == ok", False, "fails"),
    ],
)
def test_evaluate(text: str, passed: bool, observed: object) -> None:
    exp = parse_expectation(text, metrics=("f1", "loss", "pred_positive_share"), finding_kinds=("collapse",))
    assert exp.evaluate(RUN) == (passed, observed)


def test_nan_metric_never_passes() -> None:
    exp = parse_expectation("final.f1 >= 0")
    assert exp.evaluate({"history": [{"f1": float("nan")}]}) == (False, None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("final.f2 >= 0.8", "unknown metric 'f2' (did you mean 'f1'?)"),
        ("finding colapse by epoch 2", "unknown finding kind 'colapse' (did you mean 'collapse'?)"),
        ("status == okay", "unknown status 'okay' (did you mean 'ok'?)"),
        ("final.f1 between 0.6 and 0.3", "empty range"),
        ("__import__('os').system('x')", "cannot parse expectation"),
        ("final.f1 >= 0.8; rm -rf /", "cannot parse expectation"),
    ],
)
def test_rejections_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ExpectationSyntaxError, match=re.escape(message)):
        parse_expectation(text, metrics=("f1",), finding_kinds=("collapse",))


def test_when_torch_conditions() -> None:
    new = parse_expectation("outcome.checkpoint_roundtrip == fails", when_torch=">=2.6")
    old = parse_expectation("outcome.checkpoint_roundtrip == ok", when_torch="<2.6")
    assert new.applies("2.6.0+cu124") and not new.applies("2.5.1")
    results = evaluate_all([new, old], RUN, "2.13.0+cpu")
    assert [r["passed"] for r in results] == [True, None]


# ------------------------------------------------------------------ `or`, and runs with no completed epoch

#: a run that diverged in epoch 1: no epoch completed, so no metric has a value
DIVERGED_EARLY = {
    "status": "diverged",
    "diverged_at_step": 2,
    "steps": 2,
    "history": [],
    "findings": [],
    "outcomes": {},
}


@pytest.mark.parametrize(
    ("text", "run", "verdict"),
    [
        # a metric of a run with no completed epoch is not applicable, with the reason
        (
            "final.f1 <= 0.05",
            DIVERGED_EARLY,
            {"passed": None, "observed": None, "reason": "no completed epoch (diverged at step 2)"},
        ),
        (
            "epoch[1].f1 >= 0",
            {"status": "error", "history": []},
            {"passed": None, "observed": None, "reason": "no completed epoch (status error)"},
        ),
        # what a run without epochs still has is judged as before
        ("epochs_run == 0", DIVERGED_EARLY, {"passed": True, "observed": 0}),
        ("steps <= 2", DIVERGED_EARLY, {"passed": True, "observed": 2}),
        # the side that holds decides, and its value is what was observed
        (
            "status == diverged or final.f1 <= 0.05",
            DIVERGED_EARLY,
            {"passed": True, "observed": "diverged", "decided_by": "status == diverged"},
        ),
        (
            "status == diverged or final.f1 <= 0.05",
            RUN,
            {"passed": True, "observed": 0.0, "decided_by": "final.f1 <= 0.05"},
        ),
        (
            "final.f1 <= 0.05 or status == diverged",
            DIVERGED_EARLY,
            {"passed": True, "observed": "diverged", "decided_by": "status == diverged"},
        ),
        # none holds: the applicable sides decided (a not-applicable side does not count)
        (
            "status == ok or final.f1 <= 0.05",
            DIVERGED_EARLY,
            {"passed": False, "observed": "diverged", "decided_by": "status == ok"},
        ),
        (
            "status == ok or max.f1 >= 0.5",
            RUN,
            {"passed": False, "observed": "stopped / 0.43", "decided_by": "status == ok or max.f1 >= 0.5"},
        ),
        # no side applicable: the line is not applicable
        (
            "final.f1 <= 0.05 or min.loss < 1",
            DIVERGED_EARLY,
            {"passed": None, "observed": None, "reason": "no completed epoch (diverged at step 2)"},
        ),
        (
            "status == ok or finding collapse or outcome.checkpoint_roundtrip == fails",
            RUN,
            {"passed": True, "observed": "collapse at epochs [3]", "decided_by": "finding collapse"},
        ),
    ],
)
def test_or_and_runs_without_a_completed_epoch(text: str, run: dict, verdict: dict) -> None:
    exp = parse_expectation(text, metrics=("f1", "loss"), finding_kinds=("collapse",))
    assert exp.judge(run) == verdict
    assert exp.evaluate(run) == (verdict["passed"], verdict["observed"])
    [entry] = evaluate_all([exp], run, "2.13.0")
    assert entry == {"name": text, **verdict}


def test_or_sides_are_validated_each_as_a_line() -> None:
    exp = parse_expectation("status  ==  diverged   or final.f1<=0.05", metrics=("f1",))
    assert exp.kind == "any" and exp.text == "status == diverged or final.f1<=0.05"
    assert [side.text for side in exp.parts["sides"]] == ["status == diverged", "final.f1<=0.05"]
    for text, message in [
        ("status == diverged or final.f2 <= 0.05", "unknown metric 'f2' (did you mean 'f1'?)"),
        ("status == divergd or final.f1 <= 0.05", "unknown status 'divergd' (did you mean 'diverged'?)"),
        ("status == diverged or", "cannot parse expectation 'status == diverged or'"),
        ("status == diverged or or final.f1 <= 0.05", "cannot parse expectation 'or final.f1 <= 0.05'"),
        ("status == diverged and final.f1 <= 0.05", "cannot parse expectation"),  # `or` only, no `and`
        ("status == diverged || final.f1 <= 0.05", "cannot parse expectation"),
    ]:
        with pytest.raises(ExpectationSyntaxError, match=re.escape(message)):
            parse_expectation(text, metrics=("f1",))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["status == diverged"], True),
        (["status == ok"], True),  # judges the status itself (and fails a diverged run)
        (["status == diverged or final.f1 <= 0.05"], True),
        (["status in [ok, diverged] or final.f1 <= 0.05"], True),
        (["status != ok or final.f1 <= 0.05"], True),
        (["status == ok or final.f1 <= 0.05"], False),  # allows no divergence: the implicit rule stays
        (["final.f1 <= 0.05 or min.loss < 1"], False),
        (["final.f1 <= 0.05"], False),
    ],
)
def test_which_lines_expect_a_divergence(lines: list[str], expected: bool) -> None:
    from harness.scenario.expectations import expects_divergence

    assert expects_divergence([parse_expectation(line) for line in lines], "2.13.0") is expected


def test_a_divergence_expected_only_on_other_torch_versions_is_not_expected() -> None:
    from harness.scenario.expectations import expects_divergence

    exp = parse_expectation("status == diverged or final.f1 <= 0.05", when_torch="<2.6")
    assert expects_divergence([exp], "2.5.1") and not expects_divergence([exp], "2.13.0")


def test_a_not_applicable_line_counts_as_neither_pass_nor_fail_over_seeds() -> None:
    from harness.judging.verdicts import run_ok, summarize_variant

    exps = [parse_expectation("status == diverged or final.f1 <= 0.05"), parse_expectation("final.f1 <= 0.05")]
    early = {"variant": "v", "seed": 0, **DIVERGED_EARLY}
    late = {"variant": "v", "seed": 1, **DIVERGED_EARLY, "history": [{"epoch": 1, "f1": 0.02}], "diverged_at_step": 5}
    for run in (early, late):
        run["expectations"] = evaluate_all(exps, run, "2.13.0")
        assert run_ok(run)
    rows = summarize_variant([early, late], ["f1"])["expectations"]
    assert [(r["passed"], r["applicable"], r["ok"]) for r in rows] == [(2, 2, True), (1, 1, True)]
