"""Early verdicts: what is already decided before training is over, and the plan that
stops and skips what is decided (``harness ablate``; ``harness run --decide-early``).

Three levels, each a pure function of JSON-like run records (the schema of docs/reports.md):

**A line** (:func:`decide_line`): after an epoch, an expectation line is ``true`` or
``false`` for good, ``open``, or ``n/a`` (its ``when`` excludes the running PyTorch).
Decided means no later epoch can change it; with the run still going:

======================================  ==========================================================
line                                    decided
======================================  ==========================================================
``final.X ...``                         open until the run ends
``first.X ...``                         once X has its first value
``epoch[N].X ...``                      once epoch N is recorded (false: the run has fewer epochs)
``max.X <= v`` / ``min.X >= v``         false once a value passes v (``>=`` / ``<=``: true once one does)
``finding K``                           true once K is found (``no finding K``: false)
``finding K by epoch N``                true once K is found by N; false once epoch N is over without it
``no finding K after epoch N``          false once K is found after N; true if the run has <= N epochs
``status ...``, ``outcome.NAME ...``    open until the run ends (a plugin may still set an outcome)
``epochs_run``, ``steps`` ``OP v``      once no value between now and the run's length can change it
``A or B``                              true once a side is true; false once every side is false
``when: {torch: ...}`` not this torch   n/a (as when judged at the end)
======================================  ==========================================================

Findings of an epoch are complete once its last hook (``on_checkpoint``, else
``on_epoch_end``) has run; monitors record them there, never later for an earlier epoch.
A finished run's lines are simply judged (:meth:`harness.scenario.expectations.Expectation.judge`).

**A run** (:func:`decide_run`): false once a line is false; true once every line is true
(or n/a) and no later divergence could still fail it (an implicit ``status != diverged``,
unless a line itself judges divergence, see :func:`harness.scenario.expectations.expects_divergence`).

**A group** (:func:`group_verdict`): the runs of one variant or ablation arm, judged by
their lines' pass rates (or, in ``harness ablate --pass-rate``, a share of runs passing
every line). Its verdict is decided when it is the same for every way the open lines and
the runs not yet run could still turn out (each line of each of them passing, failing or
not applicable): ``final.f1 >= 0.8`` on every seed is decided false by the first seed
that fails it, ``{expect: ..., pass_rate: ">= 0.5"}`` over 3 seeds by two.

:class:`DecisionMonitor` is the observer that stops a run (``state.request_stop``) at the
end of the epoch where its group's verdict became decided; the run's status is then
``decided`` and its record says by which line (``record["decided"]``). :class:`RunPlan`
orders a suite's runs so that decisions come early (every group's first seed before any
second seed; a group's next seed only once its earlier seeds are done, so which runs are
trained depends on their results alone, never on timing) and skips the runs of a decided
group (status ``skipped``). Every run that is trained is trained exactly as without
early decisions: the monitor only reads the state after an epoch.

A later error (a plugin raising in a later epoch) is the one thing a stopped run no longer
shows: what it would have done after it was decided is not run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.judging.verdicts import expectation_rates, rate_decision, run_failed, run_verdict
from harness.scenario.entries import ExpectationEntry
from harness.scenario.expectations import Expectation, PassRate, expects_divergence

TRUE, FALSE, OPEN, NA = "true", "false", "open", "n/a"
IN_PROGRESS = ("running", "decided", "skipped")  # statuses whose lines are not judged as final
IMPLICIT_DIVERGENCE = "status != diverged"


@dataclass(frozen=True)
class LineDecision:
    """One line after some epochs: ``state`` is TRUE, FALSE, OPEN or NA."""

    name: str
    state: str
    observed: Any = None
    reason: str | None = None  # why it is open or not applicable
    decided_by: str | None = None  # of ``A or B``: the side(s) whose value decided

    @property
    def decided(self) -> bool:
        return self.state in (TRUE, FALSE)


# ------------------------------------------------------------------------------ a line


def decide_line(
    exp: Expectation,
    run: Mapping[str, Any],
    *,
    torch_version: str,
    epochs: int | None = None,
    total_steps: int | None = None,
) -> LineDecision:
    """Whether ``exp`` is decided for ``run`` (a record; status ``running`` while training).

    :param epochs: the run's planned epochs (``hparams.epochs``); None: unknown.
    :param total_steps: its planned optimizer steps (``hparams.total_steps``); None: unknown.
    A run whose status is not ``running``, ``decided`` or ``skipped`` is finished: its
    line is judged as at the end.
    """
    if not exp.applies(torch_version):
        return LineDecision(exp.text, NA, reason=f"when torch {exp.when_torch}")
    status = run.get("status")
    if status == "skipped":
        return LineDecision(exp.text, OPEN, reason="not run (skipped)")
    if status not in IN_PROGRESS:
        verdict = exp.judge(run)
        state = NA if verdict["passed"] is None else TRUE if verdict["passed"] else FALSE
        return LineDecision(exp.text, state, verdict["observed"], verdict.get("reason"), verdict.get("decided_by"))
    return _in_progress(exp, run, epochs, total_steps)


def _in_progress(exp: Expectation, run: Mapping[str, Any], epochs: int | None, total_steps: int | None) -> LineDecision:
    if exp.kind == "any":
        return _any(exp, [_in_progress(side, run, epochs, total_steps) for side in exp.parts["sides"]])
    handler = {"metric": _metric, "finding": _finding, "run_value": _run_value}.get(exp.kind)
    if handler is None:  # status, outcome: only the end says
        return LineDecision(exp.text, OPEN, reason=f"{exp.kind}: known when the run ends")
    return handler(exp, run, epochs, total_steps)


def _any(exp: Expectation, sides: list[LineDecision]) -> LineDecision:
    for side in sides:
        if side.state == TRUE:
            return LineDecision(exp.text, TRUE, side.observed, decided_by=side.name)
    if any(side.state == OPEN for side in sides):
        return LineDecision(exp.text, OPEN, reason="; ".join(s.reason or "" for s in sides if s.state == OPEN))
    failed = [side for side in sides if side.state == FALSE]
    if not failed:
        return LineDecision(exp.text, NA, reason="; ".join(dict.fromkeys(s.reason or "" for s in sides)))
    observed = failed[0].observed if len(failed) == 1 else " / ".join(str(s.observed) for s in failed)
    return LineDecision(exp.text, FALSE, observed, decided_by=" or ".join(s.name for s in failed))


def within(parts: Mapping[str, Any], lo: float, hi: float) -> str:
    """TRUE when the comparison in ``parts`` (``op``/``num`` or ``lo``/``hi``: between) holds for
    every value in [lo, hi], FALSE when for none, else OPEN."""
    if "lo" in parts:
        a, b = parts["lo"], parts["hi"]
        return TRUE if a <= lo and hi <= b else FALSE if hi < a or lo > b else OPEN
    op, n = parts["op"], parts["num"]
    always, never = {
        "<=": (hi <= n, lo > n),
        "<": (hi < n, lo >= n),
        ">=": (lo >= n, hi < n),
        ">": (lo > n, hi <= n),
        "==": (lo == hi == n, n < lo or n > hi),
        "!=": (n < lo or n > hi, lo == hi == n),
    }[op]
    return TRUE if always else FALSE if never else OPEN


def _metric(exp: Expectation, run: Mapping[str, Any], epochs: int | None, total_steps: int | None) -> LineDecision:
    p = exp.parts
    history = run.get("history") or []
    if not history:
        return LineDecision(exp.text, OPEN, reason="no completed epoch yet")
    if p["sel"] == "final":
        return LineDecision(exp.text, OPEN, reason="final value: known when the run ends")
    if p["sel"] == "epoch":
        recorded = any(rec.get("epoch") == p["epoch"] for rec in history)
        last = history[-1].get("epoch", len(history))
        if recorded or last >= p["epoch"] or (epochs is not None and p["epoch"] > epochs):
            passed, observed = exp._eval_metric(dict(run))  # that epoch's value never changes
            return LineDecision(exp.text, TRUE if passed else FALSE, observed)
        return LineDecision(exp.text, OPEN, reason=f"epoch {p['epoch']} not reached")
    values = [rec.get(p["metric"]) for rec in history]
    values = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
    if not values:
        return LineDecision(exp.text, OPEN, reason=f"no value of {p['metric']} yet")
    if p["sel"] == "first":
        passed, observed = exp._eval_metric(dict(run))
        return LineDecision(exp.text, TRUE if passed else FALSE, observed)
    if p["sel"] == "max":  # the maximum only grows
        observed, lo, hi = max(values), max(values), math.inf
    else:  # min: only shrinks
        observed, lo, hi = min(values), -math.inf, min(values)
    state = within(p, lo, hi)
    return LineDecision(
        exp.text, state, observed, reason=None if state != OPEN else f"{p['sel']} so far {observed:.4g}"
    )


def _finding(exp: Expectation, run: Mapping[str, Any], epochs: int | None, total_steps: int | None) -> LineDecision:
    p = exp.parts
    found = [f["epoch"] for f in run.get("findings", []) if f["kind"] == p["kind"]]
    history = run.get("history") or []
    closed = history[-1].get("epoch", len(history)) if history else 0  # epochs whose findings are complete
    n = p["epoch"]
    if p["rel"] == "by":
        hit, miss_decided = any(e <= n for e in found), closed >= n
    elif p["rel"] == "after":
        hit, miss_decided = any(e > n for e in found), epochs is not None and epochs <= n
    else:
        hit, miss_decided = bool(found), False
    _, observed = exp._eval_finding(dict(run))
    if hit:
        return LineDecision(exp.text, FALSE if p["negate"] else TRUE, observed)
    if miss_decided:
        return LineDecision(exp.text, TRUE if p["negate"] else FALSE, observed)
    return LineDecision(exp.text, OPEN, observed, reason=f"no {p['kind']} so far")


def _run_value(exp: Expectation, run: Mapping[str, Any], epochs: int | None, total_steps: int | None) -> LineDecision:
    p = exp.parts
    if p["name"] == "epochs_run":
        now, limit = len(run.get("history") or []), epochs
    else:
        now, limit = int(run.get("steps") or 0), total_steps
    hi = math.inf if limit is None else max(now, limit)  # the value only grows, up to the run's length
    state = within(p, now, hi)
    return LineDecision(exp.text, state, now, reason=None if state != OPEN else f"{p['name']} {now} so far")


# ------------------------------------------------------------------------------ a run


@dataclass
class RunDecision:
    """A run's lines (in the expectations' order) and its verdict: False once a line is
    false, True once every line is true or n/a and nothing later can fail it, else None."""

    verdict: bool | None
    lines: list[LineDecision]
    by: str | None = None  # the first line decided false; "every expectation" when true
    divergence_open: bool = False  # a later divergence would fail the run (implicit line)


def decide_run(
    expectations: list[Expectation],
    run: Mapping[str, Any],
    *,
    torch_version: str,
    epochs: int | None = None,
    total_steps: int | None = None,
) -> RunDecision:
    """:func:`decide_line` for every line, and the run's verdict (see :class:`RunDecision`)."""
    lines = [
        decide_line(e, run, torch_version=torch_version, epochs=epochs, total_steps=total_steps) for e in expectations
    ]
    implicit = not expects_divergence(expectations, torch_version)
    status = run.get("status")
    in_progress = status in IN_PROGRESS
    if status == "diverged" and implicit:
        lines = [*lines, LineDecision(IMPLICIT_DIVERGENCE, FALSE, "diverged")]
    if run_failed(dict(run)):
        return RunDecision(False, lines, f"status {status}")
    failed = next((line for line in lines if line.state == FALSE), None)
    if failed is not None:
        return RunDecision(False, lines, failed.name, in_progress and implicit)
    if any(line.state == OPEN for line in lines) or (in_progress and implicit):
        return RunDecision(None, lines, None, in_progress and implicit)
    return RunDecision(True, lines, "every expectation")


def decision_entries(decision: RunDecision, expectations: list[Expectation]) -> list[ExpectationEntry]:
    """A run record's ``expectations`` entries for ``decision``, in the format of
    :func:`harness.scenario.expectations.evaluate_all`; an open line is ``passed`` None with
    ``"open": true`` and the reason."""
    entries: list[ExpectationEntry] = []
    for exp, line in zip(expectations, decision.lines, strict=False):
        entry: ExpectationEntry = {
            "name": exp.text,
            "passed": {TRUE: True, FALSE: False}.get(line.state),
            "observed": line.observed,
        }
        if line.state == OPEN:
            entry["open"] = True
            entry["reason"] = f"open: {line.reason}" if line.reason else "open"
        elif line.state == NA and not (exp.when_torch and line.reason == f"when torch {exp.when_torch}"):
            entry["reason"] = line.reason
        if line.decided_by is not None:
            entry["decided_by"] = line.decided_by
        if exp.when_torch:
            entry["when"] = exp.when_torch
        if exp.pass_rate is not None:
            entry["pass_rate"] = exp.pass_rate.text
        entries.append(entry)
    for line in decision.lines[len(expectations) :]:  # the implicit divergence line
        entries.append({"name": line.name, "passed": False, "observed": line.observed, "implicit": True})
    return entries


def judge_record(
    expectations: list[Expectation], record: Mapping[str, Any], torch_version: str
) -> list[ExpectationEntry]:
    """``expectations`` judged on a run record as far as it goes: a finished run's lines as
    at its end, a ``decided`` run's as after its last epoch (``final.*`` open: it did not
    finish), a skipped run's all open. (``harness ablate`` judges the base's runs by the
    base's own lines this way.)"""
    epochs = (record.get("train") or {}).get("epochs")
    decision = decide_run(expectations, record, torch_version=torch_version, epochs=epochs)
    return decision_entries(decision, expectations)


# ------------------------------------------------------------------------------ a group


def group_verdict(
    records: Iterable[Mapping[str, Any]],
    *,
    unknown_runs: int = 0,
    rule: PassRate | None = None,
    divergence_open: bool = False,
) -> tuple[bool | None, str | None]:
    """A group's verdict (a variant's, or an ablation arm's *cured*) and what decided it,
    over its ``records`` (finished, decided, skipped or ``running`` ones, whose open lines
    may still go either way) and ``unknown_runs`` more runs not yet run.

    :param rule: a share of runs that must pass every line (``ablate --pass-rate``); None:
        every line at its own pass rate (:func:`harness.judging.verdicts.expectation_rates`).
    :param divergence_open: an open run may still diverge and so fail the implicit
        ``status != diverged`` (the lines do not judge divergence).
    :returns: ``(True | False | None, reason)``, None while it can still go either way.
    """
    pending: dict[str, Any] = {"status": "skipped", "expectations": []}
    if divergence_open:
        pending["expectations"] = [{"name": IMPLICIT_DIVERGENCE, "passed": None, "observed": None, "open": True}]
    runs = [dict(r) for r in records] + [dict(pending) for _ in range(unknown_runs)]
    if divergence_open:
        for run in runs:  # a run still training, or not yet run, may still diverge
            if run.get("status") not in ("running", "skipped") or run_verdict(run) is not None:
                continue
            if not any(e["name"] == IMPLICIT_DIVERGENCE for e in run.get("expectations", [])):
                run["expectations"] = [*run.get("expectations", []), pending["expectations"][0]]
    if rule is not None:
        verdicts = [run_verdict(r) for r in runs]
        passed, unknown = verdicts.count(True), verdicts.count(None)
        if not runs:
            return False, "no runs"
        decided = rate_decision(rule, passed, len(runs), unknown, may_be_na=False)
        reason = f"{passed} of {len(runs)} runs pass every expectation, {unknown} not known: the share {rule.text} is decided"
        return decided, reason if decided is not None else None
    rows = expectation_rates(runs)
    if not rows:  # no expectations: passes when no run errored
        if any(run_failed(r) for r in runs):
            return False, "a run errored"
        return (None, None) if any(run_verdict(r) is None for r in runs) else (True, "every run finished")
    for row in rows:
        if row.get("decided", True) and not row["ok"]:
            return False, _row_text(row)
    if all(row.get("decided", True) for row in rows):
        return True, "every expectation"
    return None, None


def _row_text(row: Mapping[str, Any]) -> str:
    rate = f" [pass_rate {row['pass_rate']}]" if row.get("pass_rate") else ""
    return f"{row['name']}{rate}"


# ------------------------------------------------------------------------------ a run in training


# ------------------------------------------------------------------------------ a suite
