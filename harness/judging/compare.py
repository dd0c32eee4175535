"""Comparing two JSON reports, e.g. the same scenarios run under two PyTorch versions.

A file is the report of ``harness run --json`` (one scenario) or of
``pytest scenarios/ --harness-json`` (``{"reports": [...]}``, one per scenario).
``harness compare A.json B.json`` pairs the runs by (scenario, variant, seed) and lists, per
run, what differs: the status, each outcome a plugin recorded, and each expectation's
result (passed / failed / n/a when its ``when:`` condition did not hold). Metric values
are left out on purpose: they move in the last digits between versions, while these
are the discrete answers a scenario asserts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ReportError(ValueError):
    """A file that is not a readable harness JSON report."""


@dataclass(frozen=True)
class Difference:
    scenario: str
    variant: str
    seed: int
    what: str  # "run", "status", "outcome NAME" or "expect 'LINE' [torch SPEC]"
    a: str
    b: str


def load_report(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON: {exc}") from None
    if isinstance(report, dict) and isinstance(report.get("reports"), list):
        if all(isinstance(r, dict) and isinstance(r.get("runs"), list) for r in report["reports"]):
            return report
    elif isinstance(report, dict) and isinstance(report.get("runs"), list):
        return report
    raise ReportError(
        f"{path}: not a harness report (no 'runs' list); write one with `harness run --json` "
        "or `pytest scenarios/ --harness-json`"
    )


def scenario_reports(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Scenario name -> its report, for either kind of file."""
    reports = payload.get("reports", [payload])
    return {(r.get("scenario") or {}).get("name", "?"): r for r in reports}


def torch_version_of(payload: dict[str, Any]) -> str | None:
    versions = {r.get("torch_version") for r in scenario_reports(payload).values()} - {None}
    return versions.pop() if len(versions) == 1 else None


def _expectation_results(run: dict[str, Any]) -> dict[str, str]:
    out = {}
    for entry in run.get("expectations", []):
        label = f"expect {entry['name']!r}" + (f" [torch{entry['when']}]" if entry.get("when") else "")
        passed = entry.get("passed")
        out[label] = "n/a" if passed is None else ("passed" if passed else "failed")
    return out


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(what, value in a, value in b)`` for everything asserted that differs between two runs."""
    diffs: list[tuple[str, str, str]] = []
    if a.get("status") != b.get("status"):
        diffs.append(("status", _show(a.get("status")), _show(b.get("status"))))
    outcomes_a, outcomes_b = a.get("outcomes") or {}, b.get("outcomes") or {}
    for name in sorted(set(outcomes_a) | set(outcomes_b)):
        if outcomes_a.get(name) != outcomes_b.get(name):
            diffs.append((f"outcome {name}", _show(outcomes_a.get(name)), _show(outcomes_b.get(name))))
    exp_a, exp_b = _expectation_results(a), _expectation_results(b)
    for label in list(exp_a) + [k for k in exp_b if k not in exp_a]:
        if exp_a.get(label) != exp_b.get(label):
            diffs.append((label, exp_a.get(label, "absent"), exp_b.get(label, "absent")))
    return diffs


def compare_reports(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[Difference], int]:
    """Every difference, and how many (scenario, variant, seed) runs the two files hold in all."""

    def runs(payload: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
        return {
            (name, r["variant"], r["seed"]): r for name, rep in scenario_reports(payload).items() for r in rep["runs"]
        }

    runs_a, runs_b = runs(a), runs(b)
    keys = list(runs_a) + [k for k in runs_b if k not in runs_a]
    out: list[Difference] = []
    for key in keys:
        if key not in runs_a or key not in runs_b:
            out.append(
                Difference(
                    *key, "run", "present" if key in runs_a else "absent", "present" if key in runs_b else "absent"
                )
            )
            continue
        out.extend(Difference(*key, what, va, vb) for what, va, vb in compare_runs(runs_a[key], runs_b[key]))
    return out, len(keys)


def column_labels(a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str]:
    """``torch 2.5.1`` / ``torch 2.6.0`` when the versions differ, else ``A`` / ``B``."""
    va, vb = torch_version_of(a), torch_version_of(b)
    if va and vb and va != vb:
        return f"torch {va}", f"torch {vb}"
    return "A", "B"
