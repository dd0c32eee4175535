"""The expectation language: small, parsed with regular expressions, never ``eval``-ed.

One expectation is one line::

    final.f1 >= 0.80                         # a metric at final | first | min | max | epoch[N]
    final.pred_positive_share between 0.3 and 0.6
    finding collapse by epoch 2              # a finding of that kind at epoch <= 2
    no finding collapse after epoch 2        # none at epoch > 2 ("no finding collapse": none at all)
    status == ok                             # or !=, or: status in [ok, stopped]
    epochs_run <= 3                          # also: steps, and exit (a script run's exit code)
    outcome.checkpoint_roundtrip == fails    # an outcome a plugin recorded (== / != compare words)
    outcome.peak_rss_mb <= 900               # a numeric outcome: <= >= < > (== / != too, with a number)
    error.type == AttributeError             # the run's error: its type, plugin or hook (also: in [A, B])
    status == diverged or final.f1 <= 0.05   # ``or`` between complete lines: holds when one side does

An entry may also be a mapping ``{expect: LINE, when: {torch: ">=2.6"}}``; the
expectation then applies only when the running PyTorch version satisfies the specifier.
The mapping may also give ``pass_rate: ">= 0.8"``: over a variant's seeds, the share of
runs where the line holds must satisfy it (default: every seed; see :class:`PassRate`).

A line is *not applicable* to a run (``passed`` None, with a ``reason``) when it does not
apply to the running PyTorch, and when it reads a metric (``final.``/``first.``/``min.``/
``max.``/``epoch[N].``) of a run that completed no epoch, such as a run diverging in
epoch 1: there is no value to judge, and the run's status says what happened (a divergence
the scenario does not expect fails the run anyway, see ``harness.execution.run_one``). Of a line
``A or B``, an applicable side that holds decides (``observed`` is its value,
``decided_by`` its text); else the applicable sides all failed and so does the line; it is
not applicable only when no side is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.scenario.entries import ExpectationEntry

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
COMPARE = r"<=|>=|==|!=|<|>"
STATUSES = (
    "ok",
    "stopped",
    "diverged",
    "error",
    "timeout",
    "decided",
)  # decided: stopped early, harness.judging.decisions
SELECTORS = ("final", "first", "min", "max")
RUN_VALUES = ("epochs_run", "steps", "exit")  # exit: a script run's exit code

_METRIC = re.compile(
    rf"^(?P<sel>final|first|min|max|epoch\[(?P<ep>\d+)\])\.(?P<metric>[A-Za-z_]\w*)\s*"
    rf"(?:(?P<op>{COMPARE})\s*(?P<num>{NUMBER})|between\s+(?P<lo>{NUMBER})\s+and\s+(?P<hi>{NUMBER}))$"
)
_FINDING = re.compile(
    r"^(?P<no>no\s+)?finding\s+(?P<kind>[A-Za-z_]\w*)(?:\s+(?P<rel>by|after)\s+epoch\s+(?P<ep>\d+))?$"
)
_STATUS = re.compile(r"^status\s*(?:(?P<op>==|!=)\s*(?P<word>\w+)|\s+in\s+\[(?P<words>[\w\s,]+)\])$")
_RUN_VALUE = re.compile(rf"^(?P<name>{'|'.join(RUN_VALUES)})\s*(?P<op>{COMPARE})\s*(?P<num>{NUMBER})$")
_OUTCOME = re.compile(rf"^outcome\.(?P<name>[A-Za-z_]\w*)\s*(?P<op>{COMPARE})\s*(?P<word>[\w.+-]+)$")
_NUMBER = re.compile(rf"^{NUMBER}$")
ERROR_FIELDS = ("type", "plugin", "hook")
_ERROR = re.compile(
    rf"^error\.(?P<field>{'|'.join(ERROR_FIELDS)})\s*(?:(?P<op>==|!=)\s*(?P<word>[\w.-]+)|\s+in\s+\[(?P<words>[\w\s,.-]+)\])$"
)

#: a comparison of two values of one kind (numbers, or words for == and !=)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


class ExpectationSyntaxError(ValueError):
    """An expectation line that does not parse or names something unknown."""


_PASS_RATE = re.compile(rf"^(?P<op>>=|<=|==|>|<)?\s*(?P<num>{NUMBER})\s*(?P<pct>%)?$")


@dataclass(frozen=True)
class PassRate:
    """A required share of seeds: ``>= 0.8``, ``> 0.5``, ``== 1``, ``>= 80%`` (a bare number means ``>=``)."""

    op: str
    value: float  # a share, 0..1

    @property
    def text(self) -> str:
        return f"{self.op} {self.value:g}"

    def holds(self, passed: int, total: int) -> bool:
        """Whether ``passed`` of ``total`` runs satisfy the rate (no runs: it holds vacuously)."""
        if total <= 0:
            return True
        return _OPS[self.op](passed / total, self.value)


ALL_SEEDS = PassRate("==", 1.0)  # the default: an expectation must hold on every seed


def parse_pass_rate(value: Any) -> PassRate:
    """``">= 0.8"``, ``0.8`` or ``">= 80%"`` -> :class:`PassRate`; anything else raises."""
    text = " ".join(str(value).split()) if not isinstance(value, bool) else ""
    m = _PASS_RATE.match(text)
    if not m:
        raise ExpectationSyntaxError(
            f"invalid pass_rate {value!r}; expected a share of seeds such as '>= 0.8', '> 0.5', '== 1' or '>= 80%'"
        )
    number = float(m["num"]) / (100.0 if m["pct"] else 1.0)
    if not 0.0 <= number <= 1.0:
        raise ExpectationSyntaxError(f"invalid pass_rate {value!r}: the share must be between 0 and 1 (or 0% and 100%)")
    return PassRate(m["op"] or ">=", number)


@dataclass
class Expectation:
    """A parsed expectation; :meth:`evaluate` checks it against one run record."""

    text: str
    kind: str  # metric | finding | status | run_value | outcome | error | any (``A or B``: parts["sides"])
    parts: dict[str, Any] = field(default_factory=dict)
    when_torch: str | None = None
    pass_rate: PassRate | None = None  # over a variant's seeds; None: every seed

    @property
    def metric(self) -> str | None:
        return self.parts.get("metric")

    def applies(self, torch_version: str) -> bool:
        if not self.when_torch:
            return True
        from packaging.specifiers import SpecifierSet
        from packaging.version import Version

        return Version(torch_version.split("+")[0]) in SpecifierSet(self.when_torch)

    def evaluate(self, run: Mapping[str, Any]) -> tuple[bool | None, Any]:
        """``(passed, observed)`` for a run record (see the JSON schema in docs/reports.md);
        ``passed`` is None when the line is not applicable to the run (see :meth:`judge`)."""
        verdict = self.judge(run)
        return verdict["passed"], verdict["observed"]

    def judge(self, run: Mapping[str, Any]) -> ExpectationEntry:
        """``{"passed", "observed"}`` plus ``reason`` when not applicable (``passed`` None) and,
        for ``A or B``, ``decided_by``: the side(s) whose value decided."""
        if self.kind == "any":
            return self._judge_any(run)
        if self.kind == "metric" and not run.get("history"):
            return {"passed": None, "observed": None, "reason": no_epoch_reason(run)}
        passed, observed = getattr(self, f"_eval_{self.kind}")(run)
        return {"passed": bool(passed), "observed": observed}

    def _judge_any(self, run: Mapping[str, Any]) -> ExpectationEntry:
        sides = [(side, side.judge(run)) for side in self.parts["sides"]]
        for side, verdict in sides:
            if verdict["passed"]:
                return {"passed": True, "observed": verdict["observed"], "decided_by": side.text}
        judged = [(side, verdict) for side, verdict in sides if verdict["passed"] is not None]
        if not judged:
            reasons = list(dict.fromkeys(verdict["reason"] for _, verdict in sides))
            return {"passed": None, "observed": None, "reason": "; ".join(reasons)}
        if len(judged) == 1:
            return {"passed": False, "observed": judged[0][1]["observed"], "decided_by": judged[0][0].text}
        return {
            "passed": False,
            "observed": " / ".join(_short(verdict["observed"]) for _, verdict in judged),
            "decided_by": " or ".join(side.text for side, _ in judged),
        }

    def judges_divergence(self) -> bool:
        """Whether this line itself decides about a diverged run, so that the implicit
        ``status != diverged`` of :func:`expects_divergence` stays out: any ``status`` line
        (one that rejects ``diverged`` fails such a run on its own), and an ``A or B`` with a
        ``status`` side that admits ``diverged`` (``status == diverged or final.f1 <= 0.05``)."""
        if self.kind == "status":
            return True
        if self.kind == "any":
            return any(
                side.kind == "status" and ("diverged" in side.parts["allowed"]) != side.parts["negate"]
                for side in self.parts["sides"]
            )
        return False

    def _eval_metric(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        p = self.parts
        values = [rec.get(p["metric"]) for rec in run.get("history", [])]
        values = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
        if p["sel"] == "epoch":
            match = [rec.get(p["metric"]) for rec in run.get("history", []) if rec.get("epoch") == p["epoch"]]
            observed = match[0] if match else None
        elif not values:
            observed = None
        else:
            observed = {"final": values[-1], "first": values[0], "min": min(values), "max": max(values)}[p["sel"]]
        if observed is None or (isinstance(observed, float) and math.isnan(observed)):
            return False, None
        if "lo" in p:
            return p["lo"] <= observed <= p["hi"], observed
        return _OPS[p["op"]](observed, p["num"]), observed

    def _eval_finding(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        p = self.parts
        epochs = [f["epoch"] for f in run.get("findings", []) if f["kind"] == p["kind"]]
        if p["rel"] == "by":
            hits = [e for e in epochs if e <= p["epoch"]]
        elif p["rel"] == "after":
            hits = [e for e in epochs if e > p["epoch"]]
        else:
            hits = epochs
        observed = f"{p['kind']} at epochs {hits}" if hits else f"no {p['kind']}"
        where = next((f.get("where") for f in run.get("findings", []) if f["kind"] == p["kind"]), None)
        if hits and where:  # a watched program's finding: the line of its code that explains it
            observed += f" ({where})"
        return (not hits) if p["negate"] else bool(hits), observed

    def _eval_status(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        status = run.get("status")
        return (status in self.parts["allowed"]) != self.parts["negate"], status

    def _eval_run_value(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        p = self.parts
        observed = len(run.get("history", [])) if p["name"] == "epochs_run" else run.get(p["name"])
        if observed is None:
            return False, None
        return _OPS[p["op"]](observed, p["num"]), observed

    def _eval_outcome(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        """A number against a number (``<= >= < >`` always, ``== !=`` when the line gives a
        number and the outcome is one); else the outcome's text against the word."""
        p = self.parts
        observed = run.get("outcomes", {}).get(p["name"])
        if "num" in p and _is_number(observed):
            return _OPS[p["op"]](float(observed), p["num"]), observed
        if p["op"] not in ("==", "!="):  # an order needs a number: a missing or non-numeric outcome fails
            return False, observed
        return _OPS[p["op"]](str(observed), p["word"]), observed

    def _eval_error(self, run: Mapping[str, Any]) -> tuple[bool, Any]:
        p = self.parts
        observed = (run.get("error") or {}).get(p["field"])
        return (observed in p["allowed"]) != p["negate"], observed


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def no_epoch_reason(run: Mapping[str, Any]) -> str:
    """Why a metric line is not applicable to a run that completed no epoch."""
    status = run.get("status")
    if status == "diverged" and run.get("diverged_at_step") is not None:
        detail = f"diverged at step {run['diverged_at_step']}"
    elif status and status != "ok":
        detail = f"status {status}"
    else:
        detail = ""
    return "no completed epoch" + (f" ({detail})" if detail else "")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "-" if value is None else str(value)


_OR = re.compile(r"\s+or\s+")


def parse_expectation(
    text: str,
    *,
    metrics: tuple[str, ...] | None = None,
    finding_kinds: tuple[str, ...] | None = None,
    when_torch: str | None = None,
    pass_rate: PassRate | None = None,
) -> Expectation:
    """Parse one line (``A or B or ...``: each side a complete line, validated as one);
    unknown metric/finding names raise with the closest valid name."""
    line = " ".join(str(text).split())
    sides = _OR.split(line)
    if len(sides) == 1:
        exp = _parse_line(line, metrics, finding_kinds, when_torch)
    else:
        parsed = [_parse_line(side, metrics, finding_kinds, None) for side in sides]
        exp = Expectation(line, "any", {"sides": parsed}, when_torch)
    exp.pass_rate = pass_rate
    return exp


def _parse_line(
    line: str, metrics: tuple[str, ...] | None, finding_kinds: tuple[str, ...] | None, when_torch: str | None
) -> Expectation:
    if m := _METRIC.match(line):
        metric = m["metric"]
        _check_name(metric, metrics, "metric")
        sel = "epoch" if m["ep"] is not None else m["sel"]
        parts: dict[str, Any] = {"sel": sel, "metric": metric}
        if m["ep"] is not None:
            parts["epoch"] = int(m["ep"])
        if m["op"]:
            parts.update(op=m["op"], num=float(m["num"]))
        else:
            lo, hi = float(m["lo"]), float(m["hi"])
            if lo > hi:
                raise ExpectationSyntaxError(f"{line!r}: empty range, {lo} > {hi}")
            parts.update(lo=lo, hi=hi)
        return Expectation(line, "metric", parts, when_torch)
    if m := _FINDING.match(line):
        _check_name(m["kind"], finding_kinds, "finding kind")
        parts = {"kind": m["kind"], "negate": bool(m["no"]), "rel": m["rel"], "epoch": int(m["ep"] or 0)}
        return Expectation(line, "finding", parts, when_torch)
    if m := _STATUS.match(line):
        words = [m["word"]] if m["word"] else [w for w in re.split(r"[\s,]+", m["words"]) if w]
        for word in words:
            _check_name(word, STATUSES, "status")
        return Expectation(line, "status", {"allowed": tuple(words), "negate": m["op"] == "!="}, when_torch)
    if m := _RUN_VALUE.match(line):
        return Expectation(line, "run_value", {"name": m["name"], "op": m["op"], "num": float(m["num"])}, when_torch)
    if m := _OUTCOME.match(line):
        parts = {"name": m["name"], "op": m["op"], "word": m["word"]}
        if _NUMBER.match(m["word"]):
            parts["num"] = float(m["word"])
        elif m["op"] not in ("==", "!="):
            raise ExpectationSyntaxError(f"{line!r}: {m['op']} compares numbers; {m['word']!r} is not one")
        return Expectation(line, "outcome", parts, when_torch)
    if m := _ERROR.match(line):
        words = [m["word"]] if m["word"] else [w for w in re.split(r"[\s,]+", m["words"]) if w]
        parts = {"field": m["field"], "allowed": tuple(words), "negate": m["op"] == "!="}
        return Expectation(line, "error", parts, when_torch)
    raise ExpectationSyntaxError(
        f"cannot parse expectation {line!r}; expected e.g. 'final.f1 >= 0.8', "
        "'final.x between 0.3 and 0.6', 'finding collapse by epoch 2', 'no finding collapse after epoch 2', "
        "'status == ok', 'epochs_run <= 3', 'outcome.NAME == VALUE', 'outcome.NAME <= 900' or "
        "'error.type == AttributeError', or such lines joined by 'or'"
    )


def _check_name(name: str, valid: tuple[str, ...] | None, what: str) -> None:
    from harness.core.metrics import metric_matches
    from harness.core.resolver import closest

    if valid is not None and not metric_matches(name, valid):
        raise ExpectationSyntaxError(f"unknown {what} {name!r}{closest(name, valid)}")


def evaluate_all(expectations: list[Expectation], run: Mapping[str, Any], torch_version: str) -> list[ExpectationEntry]:
    """The ``expectations`` entries of a run record; ``passed`` is None when not applicable
    (with a ``reason``, unless it is a ``when`` that excludes the running torch)."""
    results: list[ExpectationEntry] = []
    for exp in expectations:
        if exp.when_torch and not exp.applies(torch_version):  # only a ``when`` excludes a line
            results.append({"name": exp.text, "passed": None, "observed": None, "when": exp.when_torch})
            if exp.pass_rate is not None:
                results[-1]["pass_rate"] = exp.pass_rate.text
            continue
        entry: ExpectationEntry = {"name": exp.text}
        entry.update(exp.judge(run))
        if exp.when_torch:
            entry["when"] = exp.when_torch
        if exp.pass_rate is not None:
            entry["pass_rate"] = exp.pass_rate.text
        results.append(entry)
    return results


def expects_failure(record: Mapping[str, Any]) -> bool:
    """Whether a run's record expects the status it ended with: one of its expectation
    entries that holds names that status positively (``status == error``, ``status in
    [error, timeout]``; of ``A or B``, the side that decided). Used for the failed statuses
    (``error``, ``timeout``), which fail a run unless a line expects them
    (:func:`harness.judging.verdicts.run_failed`); ``status != ok`` does not name one.
    """
    status = record.get("status")
    for entry in record.get("expectations", []):
        if not entry.get("passed"):
            continue
        text = entry.get("decided_by") or entry.get("name", "")
        for side in _OR.split(" ".join(str(text).split())):
            try:
                exp = _parse_line(side, None, None, None)
            except ExpectationSyntaxError:
                continue
            if exp.kind == "status" and not exp.parts["negate"] and status in exp.parts["allowed"]:
                return True
    return False


def expects_divergence(expectations: list[Expectation], torch_version: str) -> bool:
    """Whether an applicable line decides about a diverged run (:meth:`Expectation.judges_divergence`);
    when none does, a divergence fails the run (the runner adds ``status != diverged``)."""
    return any(e.judges_divergence() and e.applies(torch_version) for e in expectations)
