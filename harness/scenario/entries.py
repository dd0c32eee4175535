"""A judged expectation line, as a run record keeps it (``expectations`` in docs/reports.md, "JSON report").

Built by :func:`harness.scenario.expectations.evaluate_all` (a finished run) and
:func:`harness.judging.decisions.decision_entries` (a run stopped or skipped by an early
decision); read back by the verdicts from saved reports.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ExpectationEntry(TypedDict, total=False):
    """One expectation line judged on a run; a run record's
    ``expectations`` list (:class:`harness.execution.records.RunRecord`)."""

    name: str
    passed: bool | None  # None: not applicable (or open)
    observed: Any
    reason: str | None  # why not applicable, or why open ("open: final value: ..."); None: not known
    decided_by: str  # of ``A or B``: the side(s) whose value is ``observed``
    open: bool  # not judged: the run stopped (decided) or was skipped first
    when: str  # the line's ``when: {torch: ...}``
    pass_rate: str  # ">= 0.8"
    implicit: bool  # the ``status != diverged`` line a divergence adds
