"""Multi-seed verdicts: pass counts, pass rates, flaky variants, mean +- std, from records alone."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judging.verdicts import (
    key_metrics,
    mean_std,
    metric_stat,
    report_key_metrics,
    run_ok,
    suite_passed,
    summarize_variant,
    summarize_variants,
)
from harness.scenario.expectations import ExpectationSyntaxError, PassRate, parse_pass_rate
from harness.workloads.base import Workload


def record(
    seed: int,
    passes: list[bool | None],
    *,
    variant: str = "fixed",
    status: str = "ok",
    f1: float = 0.8,
    rates: list[str | None] | None = None,
    loss: float = 0.3,
) -> dict:
    names = ["final.f1 >= 0.8", "no finding collapse", "status == ok"][: len(passes)]
    rates = rates or [None] * len(passes)
    exps = []
    for name, passed, rate in zip(names, passes, rates, strict=False):
        entry = {"name": name, "passed": passed, "observed": None}
        if rate:
            entry["pass_rate"] = rate
        exps.append(entry)
    return {
        "variant": variant,
        "seed": seed,
        "status": status,
        "plugins": {"defaults": {}},
        "history": [
            {"epoch": 1, "f1": f1 / 2, "loss": loss * 2, "pred_positive_share": 0.4, "max_pred_share": 0.6, "n": 10},
            {"epoch": 2, "f1": f1, "loss": loss, "pred_positive_share": 0.5, "max_pred_share": 0.5, "n": 10},
        ],
        "expectations": exps,
    }


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        (">= 0.8", ">=", 0.8),
        (">=0.8", ">=", 0.8),
        ("0.8", ">=", 0.8),
        (0.8, ">=", 0.8),
        ("== 1", "==", 1.0),
        ("> 0.5", ">", 0.5),
        (">= 80%", ">=", 0.8),
        ("< 0.2", "<", 0.2),
    ],
)
def test_pass_rate_syntax(text: object, op: str, value: float) -> None:
    rate = parse_pass_rate(text)
    assert (rate.op, rate.value) == (op, value)


@pytest.mark.parametrize("text", ["at least 0.8", ">= 1.5", ">= 120%", "=> 0.8", "", True, ">= -0.1", "4/5"])
def test_bad_pass_rate_is_refused(text: object) -> None:
    with pytest.raises(ExpectationSyntaxError, match="pass_rate"):
        parse_pass_rate(text)


def test_pass_rate_holds() -> None:
    assert PassRate(">=", 0.8).holds(4, 5) and not PassRate(">=", 0.8).holds(3, 5)
    assert PassRate(">", 0.5).holds(2, 3) and not PassRate(">", 0.5).holds(1, 2)
    assert PassRate("==", 1.0).holds(3, 3) and not PassRate("==", 1.0).holds(2, 3)
    assert PassRate(">=", 0.7).holds(7, 10)  # no float surprise at the boundary


def test_every_seed_must_pass_without_pass_rate_and_a_disagreement_is_flagged() -> None:
    s = summarize_variant([record(0, [True, True]), record(1, [False, True]), record(2, [True, True])])
    assert (s["passed_runs"], s["runs"], s["passed"], s["flaky"]) == (2, 3, False, True)
    assert [(e["passed"], e["applicable"], e["ok"]) for e in s["expectations"]] == [(2, 3, False), (3, 3, True)]


def test_pass_rate_lets_a_variant_pass_with_a_failing_seed() -> None:
    runs = [record(i, [i != 3, True], rates=[">= 0.8", None]) for i in range(5)]
    s = summarize_variant(runs)
    assert s["passed"] is True and s["flaky"] is True and s["passed_runs"] == 4 and s["uses_pass_rate"]
    assert s["expectations"][0] == {
        "name": "final.f1 >= 0.8",
        "pass_rate": ">= 0.8",
        "passed": 4,
        "applicable": 5,
        "rate": 0.8,
        "ok": True,
    }
    runs[2] = record(2, [False, True], rates=[">= 0.8", None])
    assert summarize_variant(runs)["passed"] is False  # 3/5 < 0.8


def test_an_errored_run_fails_every_expectation_even_not_applicable_ones() -> None:
    runs = [
        record(0, [True, None], rates=[">= 0.5", None]),
        record(1, [True, None], status="error", rates=[">= 0.5", None]),
    ]
    s = summarize_variant(runs)
    assert [(e["passed"], e["applicable"]) for e in s["expectations"]] == [(1, 2), (0, 1)]
    assert s["passed"] is False  # the n/a line now has a failed seed and needs every seed
    assert summarize_variant([record(0, []), record(1, [], status="timeout")])["passed"] is False
    assert summarize_variant([record(0, [])])["passed"] is True


def test_not_applicable_everywhere_passes() -> None:
    s = summarize_variant([record(0, [None]), record(1, [None])])
    assert s["passed"] is True and s["expectations"][0]["applicable"] == 0


def test_mean_and_std_of_the_key_metrics() -> None:
    runs = [record(0, [True], f1=0.7), record(1, [True], f1=0.8), record(2, [True], f1=0.9)]
    assert key_metrics(runs, Workload.declared_key_metrics()) == ["f1", "max_pred_share", "loss"]
    s = summarize_variant(runs, key_metrics(runs, Workload.declared_key_metrics()))
    assert list(s["metrics"]) == ["f1", "max_pred_share", "loss"]
    assert s["metrics"]["f1"]["mean"] == pytest.approx(0.8)
    assert s["metrics"]["f1"]["std"] == pytest.approx(0.1)  # sample std over seeds
    assert s["metrics"]["f1"]["values"] == [0.7, 0.8, 0.9]
    assert mean_std([0.5])["std"] == 0.0 and mean_std([None])["mean"] is None
    assert mean_std([1.0, float("nan"), 3.0])["mean"] == 2.0


def test_the_workloads_declared_key_metrics_are_the_columns_in_their_order() -> None:
    from harness.workloads.patch_distillation import PatchDistillationWorkload

    assert Workload.declared_key_metrics() == ("f1", "max_pred_share", "loss")  # a classifier: F1, balance, loss
    assert PatchDistillationWorkload.declared_key_metrics() == ("auc", "output_std", "loss")
    run = {
        "variant": "v",
        "seed": 0,
        "history": [{"epoch": 1, "auc": 0.5, "val_loss": 0.7, "output_std": 1e-4, "loss": 2.0}],
    }
    assert key_metrics([run], PatchDistillationWorkload.declared_key_metrics()) == ["auc", "output_std", "loss"]
    assert key_metrics([run], ("loss", "output_std")) == ["loss", "output_std"]  # the declaration's order
    assert key_metrics([run], ("my_metric", "auc")) == ["auc"]  # a name no run recorded is left out
    assert key_metrics([{"history": []}], ("my_metric", "auc")) == ["my_metric", "auc"]  # no history: all kept
    shares = {
        "variant": "v",
        "seed": 0,
        "history": [
            {
                "epoch": 1,
                "pred_share_0": 0.2,
                "pred_share_1": 0.3,
                "pred_share_2": 0.5,
                "max_pred_share": 0.5,
                "loss": 1.0,
            }
        ],
    }
    assert key_metrics([shares], ("max_pred_share", "pred_share_<k>")) == [
        "max_pred_share",
        "pred_share_0",
        "pred_share_1",
        "pred_share_2",
    ]


def test_without_a_declaration_the_first_recorded_metrics_and_the_loss_are_shown() -> None:
    """A report written before workloads declared key metrics: no metric name is assumed."""
    run = {
        "variant": "v",
        "seed": 0,
        "history": [
            {
                "epoch": 1,
                "loss": 2.0,
                "steps": 4,
                "n": 40,
                "pred_count_0": 40,
                "my_a": 0.5,
                "my_b": 1e-4,
                "my_c": 3.0,
                "lr": 0.1,
            }
        ],
    }
    assert key_metrics([run]) == ["my_a", "my_b", "loss"]  # counts (integers) and the loop's keys left out
    # a declaration none of whose validation metrics was recorded (a workload that kept the default) falls back too
    assert key_metrics([run], Workload.declared_key_metrics()) == ["my_a", "my_b", "loss"]


def test_a_reports_key_metrics_come_from_its_scenario_else_its_saved_summaries() -> None:
    runs = [record(0, [True]), record(1, [True])]
    new = {"scenario": {"name": "s", "key_metrics": ["f1", "max_pred_share", "loss"]}, "runs": runs}
    assert report_key_metrics(new) == ["f1", "max_pred_share", "loss"]
    old = {
        "scenario": {"name": "s"},
        "runs": runs,
        "variants": summarize_variants(runs, ("f1", "pred_positive_share", "loss")),
    }  # as an old harness wrote it
    assert report_key_metrics(old) == ["f1", "pred_positive_share", "loss"]
    del old["variants"]
    assert report_key_metrics(old) == ["f1", "pred_positive_share", "loss"]  # the first fractional metrics, the loss
    summary = summarize_variants(runs, ("f1",))["fixed"]
    assert metric_stat(summary, runs, "max_pred_share")["mean"] == 0.5  # a column its summary lacks: from the runs


def test_summaries_per_variant_and_suite_verdict() -> None:
    runs = [
        record(0, [True]),
        record(0, [False], variant="broken"),
        record(1, [True]),
        record(1, [True], variant="broken"),
    ]
    summaries = summarize_variants(runs)
    assert list(summaries) == ["fixed", "broken"]
    assert summaries["fixed"]["seeds"] == [0, 1] and summaries["broken"]["passed"] is False
    assert suite_passed(summaries) is False


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ok", "stopped", "error", "timeout"]),
            st.lists(st.sampled_from([True, False, None]), min_size=0, max_size=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_without_pass_rates_the_variant_passes_exactly_when_every_run_passes(runs: list) -> None:
    width = max(len(p) for _, p in runs)
    records = [record(i, (p + [True] * width)[:width], status=status) for i, (status, p) in enumerate(runs)]
    s = summarize_variant(records)
    assert s["passed"] == all(run_ok(r) for r in records)
    assert s["flaky"] == (0 < sum(map(run_ok, records)) < len(records))
    assert not math.isnan(s["metrics"]["f1"]["mean"])
