from __future__ import annotations

import re

import pytest

from harness.expectations import ExpectationSyntaxError, evaluate_all, parse_expectation

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
