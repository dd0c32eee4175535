"""Early verdicts on scripted histories: a line, a run and a group of seeds are decided
exactly when no later epoch or seed can change them, and then agree with the final judgement."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.execution.records import RunKey
from harness.execution.run_plan import DecisionMonitor, GroupContext, RunPlan, interleaved
from harness.judging.decisions import FALSE, NA, OPEN, TRUE, decide_line, decide_run, decision_entries, group_verdict
from harness.judging.verdicts import rate_decision, run_verdict, summarize_variant
from harness.scenario.expectations import ALL_SEEDS, parse_expectation, parse_pass_rate

TORCH = "2.13.0"


def run(
    epochs: list[dict[str, Any]] | None = None,
    findings: list[tuple[str, int]] = (),
    status: str = "running",
    **extra: Any,
) -> dict:
    history = [{"epoch": i + 1, **e} for i, e in enumerate(epochs or [])]
    return {
        "status": status,
        "history": history,
        "findings": [{"kind": k, "epoch": e} for k, e in findings],
        "steps": extra.pop("steps", 10 * len(history)),
        "outcomes": {},
        **extra,
    }


def state_of(line: str, record: dict, epochs: int | None = 5, total_steps: int | None = 50, **kw: Any) -> str:
    exp = parse_expectation(line, **kw)
    return decide_line(exp, record, torch_version=TORCH, epochs=epochs, total_steps=total_steps).state


# ------------------------------------------------------------------ lines


def test_final_values_stay_open_until_the_run_ends() -> None:
    going = run([{"f1": 0.9}, {"f1": 0.95}])
    assert state_of("final.f1 >= 0.8", going) == OPEN
    assert state_of("final.f1 >= 0.8", {**going, "status": "ok"}) == TRUE
    assert state_of("final.f1 >= 0.99", {**going, "status": "ok"}) == FALSE


def test_finding_by_epoch_is_true_once_found_and_false_once_the_epoch_is_over() -> None:
    line = "finding collapse by epoch 2"
    assert state_of(line, run([{}])) == OPEN
    assert state_of(line, run([{}], findings=[("collapse", 1)])) == TRUE
    assert state_of(line, run([{}, {}])) == FALSE  # epoch 2 is over without one
    assert state_of(line, run([{}, {}, {}], findings=[("collapse", 3)])) == FALSE  # too late
    assert state_of("no finding collapse by epoch 2", run([{}, {}])) == TRUE


def test_no_finding_after_an_epoch_is_false_once_it_appears_after_it() -> None:
    line = "no finding collapse after epoch 2"
    assert state_of(line, run([{}, {}], findings=[("collapse", 1), ("collapse", 2)])) == OPEN
    assert state_of(line, run([{}, {}, {}], findings=[("collapse", 3)])) == FALSE
    assert state_of(line, run([{}]), epochs=2) == TRUE  # a 2-epoch run has no epoch after 2
    assert state_of("finding collapse after epoch 2", run([{}]), epochs=2) == FALSE
    assert state_of("no finding collapse", run([{}], findings=[("collapse", 1)])) == FALSE
    assert state_of("no finding collapse", run([{}])) == OPEN
    assert state_of("finding collapse", run([{}], findings=[("collapse", 1)])) == TRUE


@pytest.mark.parametrize(
    ("line", "losses", "expected"),
    [
        ("max.loss <= 5", [1.0, 2.0], OPEN),
        ("max.loss <= 5", [1.0, 7.0, 2.0], FALSE),  # the maximum only grows
        ("max.loss < 5", [5.0], FALSE),
        ("max.loss >= 5", [1.0, 6.0], TRUE),
        ("max.loss > 5", [1.0], OPEN),
        ("min.loss >= 1", [2.0, 0.5], FALSE),  # the minimum only shrinks
        ("min.loss <= 1", [2.0, 0.5], TRUE),
        ("min.loss <= 1", [2.0], OPEN),
        ("max.loss between 0 and 3", [1.0, 4.0], FALSE),
        ("max.loss between 0 and 3", [1.0], OPEN),
        ("min.loss between 2 and 3", [1.0], FALSE),
        ("max.loss == 7", [8.0], FALSE),
        ("max.loss != 7", [8.0], TRUE),
        ("first.loss <= 1.5", [1.0, 9.0], TRUE),  # the first value never changes
        ("first.loss > 1.5", [1.0], FALSE),
        ("epoch[2].loss < 3", [1.0], OPEN),
        ("epoch[2].loss < 3", [9.0, 2.0], TRUE),
        ("epoch[1].loss < 3", [9.0, 2.0], FALSE),
        ("epoch[9].loss < 3", [1.0], FALSE),  # a 5-epoch run never records epoch 9
    ],
)
def test_metric_selectors_other_than_final_decide_as_soon_as_they_can(
    line: str, losses: list[float], expected: str
) -> None:
    assert state_of(line, run([{"loss": v} for v in losses])) == expected


def test_nan_values_are_ignored_as_at_the_end() -> None:
    assert state_of("max.loss <= 5", run([{"loss": float("nan")}])) == OPEN
    assert state_of("first.loss <= 5", run([{"loss": float("nan")}, {"loss": 1.0}])) == TRUE


@pytest.mark.parametrize(
    ("line", "epochs_done", "planned", "expected"),
    [
        ("epochs_run <= 3", 2, 5, OPEN),
        ("epochs_run <= 3", 4, 5, FALSE),
        ("epochs_run <= 3", 1, 3, TRUE),  # the run cannot have more than its 3 epochs
        ("epochs_run >= 2", 2, 5, TRUE),
        ("epochs_run == 5", 2, 5, OPEN),
        ("epochs_run == 5", 5, 5, TRUE),
        ("epochs_run < 2", 2, 5, FALSE),
        ("epochs_run <= 3", 2, None, OPEN),  # planned length unknown
    ],
)
def test_epochs_run_and_steps_are_decided_within_the_runs_length(
    line: str, epochs_done: int, planned: int | None, expected: str
) -> None:
    assert state_of(line, run([{}] * epochs_done), epochs=planned) == expected


def test_steps_are_bounded_by_the_planned_total() -> None:
    assert state_of("steps > 15", run([{}, {}])) == TRUE  # 20 steps done
    assert state_of("steps <= 15", run([{}, {}])) == FALSE
    assert state_of("steps <= 60", run([{}]), total_steps=50) == TRUE
    assert state_of("steps <= 40", run([{}]), total_steps=50) == OPEN


def test_status_and_outcomes_are_known_only_at_the_end() -> None:
    going = run([{}])
    assert state_of("status == ok", going) == OPEN
    assert state_of("status != diverged", going) == OPEN
    assert state_of("outcome.checkpoint_roundtrip == ok", going) == OPEN
    assert state_of("status == ok", run([], status="diverged", diverged_at_step=3)) == FALSE
    assert state_of("status == ok", run([], status="error")) == FALSE
    assert state_of("status in [ok, stopped]", run([{}], status="stopped")) == TRUE


def test_or_is_true_once_a_side_is_and_false_once_every_side_is() -> None:
    line = "finding collapse by epoch 1 or max.loss > 5"
    assert state_of(line, run([{"loss": 6.0}])) == TRUE
    assert state_of(line, run([{"loss": 1.0}])) == OPEN  # the loss may still grow
    assert state_of("finding collapse by epoch 1 or first.loss > 5", run([{"loss": 1.0}])) == FALSE
    assert state_of("status == diverged or final.f1 <= 0.05", run([{"f1": 0.0}])) == OPEN
    exp = parse_expectation(line)
    decided = decide_line(exp, run([{"loss": 6.0}]), torch_version=TORCH, epochs=5)
    assert decided.decided_by == "max.loss > 5" and decided.observed == 6.0


def test_a_line_for_another_torch_is_not_applicable() -> None:
    exp = parse_expectation("status == ok", when_torch=">=2.6")
    assert decide_line(exp, run([{}]), torch_version="2.5.1").state == NA
    assert decide_line(exp, run([{}]), torch_version="2.6.0").state == OPEN


def test_a_skipped_run_has_every_line_open() -> None:
    assert state_of("finding collapse", {"status": "skipped", "findings": [], "history": []}) == OPEN


# every decision made part-way agrees with the judgement of the whole run

LINES = [
    "final.f1 >= 0.5",
    "first.f1 >= 0.5",
    "min.f1 >= 0.3",
    "min.f1 <= 0.3",
    "max.f1 <= 0.7",
    "max.f1 >= 0.7",
    "max.f1 between 0.2 and 0.8",
    "min.f1 != 0.5",
    "epoch[2].f1 > 0.4",
    "epoch[7].f1 > 0.4",
    "finding collapse",
    "no finding collapse",
    "finding collapse by epoch 2",
    "no finding collapse by epoch 2",
    "finding collapse after epoch 2",
    "no finding collapse after epoch 3",
    "epochs_run <= 3",
    "epochs_run >= 3",
    "epochs_run == 4",
    "steps > 25",
    "steps <= 35",
    "status == ok",
    "no finding collapse after epoch 1 or max.f1 >= 0.9",
    "finding collapse by epoch 1 or first.f1 < 0.2",
]


@settings(max_examples=150, deadline=None)
@given(
    f1=st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=5),
    collapses=st.lists(st.integers(1, 5), max_size=3),
    line=st.sampled_from(LINES),
)
def test_every_early_decision_agrees_with_the_final_judgement(f1: list[float], collapses: list[int], line: str) -> None:
    epochs = len(f1)
    found = [("collapse", e) for e in collapses if e <= epochs]
    final = run([{"f1": v} for v in f1], found, status="ok")
    exp = parse_expectation(line)
    truth = decide_line(exp, final, torch_version=TORCH).state
    for done in range(1, epochs):
        partial = run([{"f1": v} for v in f1[:done]], [(k, e) for k, e in found if e <= done])
        state = decide_line(exp, partial, torch_version=TORCH, epochs=epochs, total_steps=10 * epochs).state
        assert state in (OPEN, truth), (line, done, state, truth)


# ------------------------------------------------------------------ runs


def test_a_run_is_false_once_a_line_is_and_names_it() -> None:
    lines = [parse_expectation(t) for t in ("final.f1 >= 0.8", "no finding collapse after epoch 2", "status == ok")]
    decision = decide_run(lines, run([{}] * 3, [("collapse", 3)]), torch_version=TORCH, epochs=5)
    assert decision.verdict is False and decision.by == "no finding collapse after epoch 2"
    assert decide_run(lines, run([{}] * 2), torch_version=TORCH, epochs=5).verdict is None


def test_a_later_divergence_keeps_a_run_open_unless_a_line_judges_divergence() -> None:
    found = run([{}], [("collapse", 1)])
    plain = [parse_expectation("finding collapse by epoch 2")]
    assert decide_run(plain, found, torch_version=TORCH, epochs=5).verdict is None  # it could still diverge
    judged = [parse_expectation("status == diverged or finding collapse by epoch 2")]
    assert decide_run(judged, found, torch_version=TORCH, epochs=5).verdict is True
    diverged = decide_run([parse_expectation("epochs_run <= 5")], run([], status="diverged"), torch_version=TORCH)
    assert diverged.verdict is False and diverged.by == "status != diverged"


def test_entries_of_a_decided_run_mark_the_open_lines() -> None:
    lines = [parse_expectation("final.f1 >= 0.8"), parse_expectation("max.loss <= 5", pass_rate=parse_pass_rate(0.5))]
    decision = decide_run(lines, run([{"loss": 9.0, "f1": 0.1}]), torch_version=TORCH, epochs=5)
    entries = decision_entries(decision, lines)
    assert entries[0]["passed"] is None and entries[0]["open"] and "final value" in entries[0]["reason"]
    assert entries[1] == {"name": "max.loss <= 5", "passed": False, "observed": 9.0, "pass_rate": ">= 0.5"}
    assert run_verdict({"status": "decided", "expectations": entries}) is False
    assert run_verdict({"status": "decided", "expectations": entries[:1]}) is None


# ------------------------------------------------------------------ groups of seeds


def test_rate_decision_is_settled_only_when_every_outcome_agrees() -> None:
    assert rate_decision(ALL_SEEDS, 0, 1, 2) is False  # one failure: never every seed
    assert rate_decision(ALL_SEEDS, 1, 1, 2) is None
    assert rate_decision(ALL_SEEDS, 3, 3, 0) is True
    half = parse_pass_rate(">= 0.5")
    assert rate_decision(half, 2, 2, 1) is True
    assert rate_decision(half, 0, 2, 1, may_be_na=False) is False
    # a share over fewer runs is not the share over all: 1 of 2 is 0.5, but 1 or 2 of 3 never is
    assert rate_decision(parse_pass_rate("== 0.5"), 1, 2, 1, may_be_na=False) is False


def entry(name: str, passed: bool | None, **extra: Any) -> dict:
    return {"name": name, "passed": passed, **extra}


def test_a_group_is_decided_false_by_the_first_seed_failing_a_line_every_seed_must_meet() -> None:
    failing = {"seed": 0, "status": "decided", "expectations": [entry("a", False), entry("b", None, open=True)]}
    assert group_verdict([failing], unknown_runs=2) == (False, "a")
    passing = {"seed": 0, "status": "ok", "expectations": [entry("a", True), entry("b", True)]}
    assert group_verdict([passing], unknown_runs=2) == (None, None)
    assert group_verdict([passing] * 3) == (True, "every expectation")


def test_a_group_with_pass_rates_waits_for_enough_seeds() -> None:
    def seed(ok: bool) -> dict:
        return {"status": "ok", "expectations": [entry("a", ok, pass_rate=">= 0.5")]}

    assert group_verdict([seed(False)], unknown_runs=2)[0] is None
    assert group_verdict([seed(False), seed(False)], unknown_runs=1)[0] is False
    assert group_verdict([seed(True), seed(True)], unknown_runs=1)[0] is True
    # ... unless a run could still diverge and fail the implicit line
    assert group_verdict([seed(True), seed(True)], unknown_runs=1, divergence_open=True)[0] is None


def test_an_arm_rule_counts_runs_passing_every_line() -> None:
    rule = parse_pass_rate(">= 0.5")
    fail = {"status": "decided", "expectations": [entry("a", False)]}
    ok = {"status": "ok", "expectations": [entry("a", True)]}
    assert group_verdict([fail, fail], unknown_runs=1, rule=rule)[0] is False
    assert group_verdict([ok, fail], unknown_runs=1, rule=rule)[0] is None
    assert group_verdict([ok, ok], unknown_runs=1, rule=rule)[0] is True


def test_a_summary_counts_decided_and_skipped_runs_honestly() -> None:
    decided = {
        "variant": "v",
        "seed": 0,
        "status": "decided",
        "history": [{"epoch": 1, "f1": 0.1}],
        "findings": [],
        "expectations": [entry("final.f1 >= 0.8", None, open=True), entry("no finding collapse", False)],
    }
    skipped = {
        "variant": "v",
        "seed": 1,
        "status": "skipped",
        "history": [],
        "findings": [],
        "expectations": [entry("final.f1 >= 0.8", None, open=True), entry("no finding collapse", None, open=True)],
    }
    summary = summarize_variant([decided, skipped, {**skipped, "seed": 2}], ["f1"])
    assert (summary["runs"], summary["passed_runs"], summary["decided"], summary["skipped"]) == (1, 0, 1, 2)
    assert summary["passed"] is False and not summary["flaky"]
    rows = {row["name"]: row for row in summary["expectations"]}
    assert rows["no finding collapse"] | {} == rows["no finding collapse"]
    assert (rows["no finding collapse"]["applicable"], rows["no finding collapse"]["unknown"]) == (1, 2)
    assert rows["no finding collapse"]["decided"] and not rows["no finding collapse"]["ok"]
    assert not rows["final.f1 >= 0.8"]["decided"]  # never judged on any seed
    assert summary["metrics"]["f1"]["n"] == 0  # a decided run's last value is not a final value


# ------------------------------------------------------------------ the plan


def keys(variants: str, seeds: int) -> list[RunKey]:
    return [RunKey(v, s) for v in variants for s in range(seeds)]


def record(key: RunKey, ok: bool, status: str = "ok") -> dict:
    return {"variant": key.variant, "seed": key.seed, "status": status, "expectations": [entry("a", ok)]}


def drain(plan: RunPlan, jobs: int, outcome) -> list[tuple[str, RunKey]]:
    """Drive ``plan`` as an executor would, finishing runs in start order; the event log."""
    log, running = [], []
    while not plan.finished or running:
        while (action := plan.next(len(running) < jobs)) is not None:
            log.append((action.kind, action.key))
            if action.kind == "start":
                running.append(action)
        if running:
            action = running.pop(0)
            plan.finish(action.key, outcome(action))
    return log


def test_a_deciding_plan_starts_every_first_seed_before_any_second_and_skips_decided_groups() -> None:
    plan = RunPlan(keys("ab", 3), decide=True)
    log = drain(plan, 2, lambda action: record(action.key, ok=action.key.variant == "b"))
    starts = [key for kind, key in log if kind == "start"]
    assert starts[:2] == [RunKey("a", 0), RunKey("b", 0)]
    assert starts == [RunKey("a", 0), RunKey("b", 0), RunKey("b", 1), RunKey("b", 2)]
    assert [key for kind, key in log if kind == "skip"] == [RunKey("a", 1), RunKey("a", 2)]


def test_a_groups_next_seed_starts_only_once_its_earlier_seeds_finished() -> None:
    plan = RunPlan(keys("a", 3), decide=True)
    first = plan.next(True)
    assert first.kind == "start" and first.context == GroupContext("a", (), 2, None)
    assert plan.next(True) is None  # a free worker waits: seed 1 depends on seed 0
    plan.finish(first.key, record(first.key, ok=True))
    second = plan.next(True)
    assert second.key == RunKey("a", 1) and second.context.later == 1
    assert [r["seed"] for r in second.context.earlier] == [0]


def test_which_runs_train_does_not_depend_on_the_number_of_workers() -> None:
    def outcome(action) -> dict:
        return record(action.key, ok=(action.key.variant, action.key.seed) != ("b", 1))

    logs = [
        sorted((kind, key.slug) for kind, key in drain(RunPlan(keys("abc", 3), decide=True), jobs, outcome))
        for jobs in (1, 2, 5)
    ]
    assert logs[0] == logs[1] == logs[2]


def test_an_exhaustive_plan_runs_every_key_in_order_with_resumed_ones_first() -> None:
    done = {RunKey("b", 0): record(RunKey("b", 0), ok=True), RunKey("a", 1): {"status": "decided", "expectations": []}}
    plan = RunPlan(keys("ab", 2), lookup=done.get)
    log = drain(plan, 1, lambda action: record(action.key, ok=False))
    assert log == [
        ("reuse", RunKey("b", 0)),
        ("start", RunKey("a", 0)),
        ("start", RunKey("a", 1)),
        ("start", RunKey("b", 1)),
    ]


def test_a_deciding_plan_reuses_a_decided_record_only_for_the_same_earlier_runs() -> None:
    key0, key1 = RunKey("a", 0), RunKey("a", 1)
    first = record(key0, ok=True)
    context = GroupContext("a", (), 1, None)
    stale = {**record(key0, ok=False, status="decided"), "decided": {"context": "something else"}}
    assert RunPlan([key0, key1], decide=True, lookup={key0: stale}.get).next(True).kind == "start"
    fresh = {**stale, "decided": {"context": context.digest()}}
    plan = RunPlan([key0, key1], decide=True, lookup={key0: fresh, key1: first}.get)
    assert [plan.next(True).kind, plan.next(True).kind] == ["reuse", "skip"]


def test_interleaved_order() -> None:
    assert interleaved(keys("ab", 2)) == [RunKey("a", 0), RunKey("b", 0), RunKey("a", 1), RunKey("b", 1)]


# ------------------------------------------------------------------ the monitor


class FakeState(SimpleNamespace):
    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    @property
    def stop_requested(self) -> bool:
        return self.stop_reason is not None


def test_the_monitor_requests_a_stop_when_the_group_is_decided_and_the_record_says_so() -> None:
    lines = [parse_expectation(t) for t in ("final.f1 >= 0.8", "no finding collapse after epoch 2")]
    monitor = DecisionMonitor(lines, TORCH, GroupContext("arm", (), 2, None))
    finding = SimpleNamespace(to_dict=lambda: {"kind": "collapse", "epoch": 3})
    state = FakeState(
        hparams=SimpleNamespace(epochs=5, total_steps=50),
        history=[],
        findings=[],
        step=0,
        outcomes={},
        epoch=0,
        stop_reason=None,
        run_dir="dir",
    )
    for epoch in (1, 2, 3):
        state.epoch, state.step = epoch, 10 * epoch
        state.history.append({"epoch": epoch, "f1": 0.1})
        if epoch == 3:
            state.findings.append(finding)
        monitor.decide(state)
        assert state.stop_requested == (epoch == 3)
    assert monitor.decision["epoch"] == 3 and monitor.decision["by"] == "no finding collapse after epoch 2"
    finished = monitor.finish({"status": "stopped", "stop_reason": state.stop_reason, "expectations": []})
    assert finished["status"] == "decided" and finished["decided"]["verdict"] is False
    assert [e.get("open", False) for e in finished["expectations"]] == [True, False]


def test_the_monitor_never_stops_the_last_epoch_nor_a_run_another_plugin_stops() -> None:
    lines = [parse_expectation("no finding collapse")]
    state = FakeState(
        hparams=SimpleNamespace(epochs=1, total_steps=10),
        history=[{"epoch": 1}],
        findings=[SimpleNamespace(to_dict=lambda: {"kind": "collapse", "epoch": 1})],
        step=10,
        outcomes={},
        epoch=1,
        stop_reason=None,
        run_dir="dir",
    )
    DecisionMonitor(lines, TORCH, GroupContext("v")).decide(state)
    assert not state.stop_requested
    state.hparams.epochs, state.stop_reason = 5, "collapse_stop: ..."
    monitor = DecisionMonitor(lines, TORCH, GroupContext("v"))
    monitor.decide(state)
    assert monitor.decision is None
