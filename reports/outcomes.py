"""One vocabulary for a variant's outcome, and the next command to run.

A variant's expectations say either that the incident happens (a ``finding KIND`` line, or
a run that must error: ``status == error``) or that it does not (everything else). So a
passing variant reads *reproduced* or *cured*, a failing one *not reproduced* or *not
cured*; a variant with no expectations is never a bare PASS: it reads *N finding(s)* or
*no findings*. :data:`LEGEND` says so in one line under the terminal's summary.
"""

from __future__ import annotations

import re
from typing import Any

LEGEND = (
    "PASS/FAIL: the variant's expectations held or not; reproduced: they say the incident "
    "happens; cured: they say it does not"
)


#: an outcome line that says something failed: ``outcome.checkpoint_roundtrip == fails``,
#: ``outcome.checkpoint_error == UnpicklingError``
_FAILURE_OUTCOME = re.compile(r"^outcome\.\w+\s*==\s*(fails|failed|error|\w*Error)$")


def reproduces(lines: list[str]) -> bool:
    """Whether expectation lines (their text) say the incident happens: a finding, a run that
    errors, or an outcome that names a failure."""
    return any(
        line.startswith("finding ") or line.replace(" ", "") == "status==error" or _FAILURE_OUTCOME.match(line)
        for line in lines
    )


def outcome(summary: dict[str, Any], findings: int) -> tuple[str, str]:
    """``(word, rich style)`` for a variant's summary: ``PASS reproduced``, ``FAIL not cured``,
    ``3 findings``, ``no findings``; ``findings`` is the number over its runs."""
    names = [row["name"] for row in summary.get("expectations", [])]
    if not names:
        if findings:
            return f"{findings} finding{'s' if findings != 1 else ''}", "yellow"
        return "no findings", "default"
    word = "reproduced" if reproduces(names) else "cured"
    if summary["passed"]:
        return f"PASS {word}", "green"
    return f"FAIL not {word}", "red"


def next_steps(report: dict[str, Any], path: str) -> list[str]:
    """The commands worth running after ``harness run PATH`` of one scenario."""
    summaries = report.get("variants", {})
    steps: list[str] = []
    reproduced = [n for n, s in summaries.items() if s["passed"] and reproduces(_names(s))]
    failed_cure = [n for n, s in summaries.items() if _names(s) and not s["passed"] and not reproduces(_names(s))]
    unexpected = [n for n, s in summaries.items() if not _names(s) and _has_findings(report, n)]
    if (report.get("scenario") or {}).get("workload") == "script":
        return []  # ablate and doctor switch fix plugins in a workload's loop: not a script's yet
    if reproduced and len(summaries) > 1 or failed_cure:
        steps.append(f"harness ablate {path}" + (" (why the cure fails)" if failed_cure else " (which change cures)"))
    for name in (reproduced + unexpected)[:2]:
        steps.append(f"harness doctor {path} --variant {name} (propose fixes)")
    return steps


def ablate_next_steps(report: dict[str, Any], path: str, base: str) -> list[str]:
    """After ``harness ablate PATH``: keep a proven cure as a test, or ask the doctor why not."""
    if report.get("passed"):
        return [f"pytest {path} (keep the cure as a test)"]
    return [f"harness doctor {path} --variant {base} (propose fixes)"]


def doctor_next_steps(report: dict[str, Any], path: str, variant: str) -> list[str]:
    """After ``harness doctor PATH``: replay the proven fix; make the diagnosis's change when no
    plugin can (no candidate was tried); else search wider."""
    doctor = report.get("doctor") or {}
    if doctor.get("best") is not None:
        return [f"harness run {path} (with the variant above)"]
    if doctor.get("diagnosis") and not doctor.get("candidates"):
        return ["make the cure of the diagnosis above in your code, then replay it"]
    return [f"harness doctor {path} --variant {variant} --max-combination 3 (search wider)"]


def _names(summary: dict[str, Any]) -> list[str]:
    return [row["name"] for row in summary.get("expectations", [])]


def _has_findings(report: dict[str, Any], name: str) -> bool:
    return any(run.get("findings") for run in report.get("runs", []) if run.get("variant") == name)
