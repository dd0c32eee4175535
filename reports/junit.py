"""JUnit XML for CI systems: one testcase per run and per run x expectation.

Layout (one ``<testsuite>`` per scenario inside ``<testsuites>``)::

    classname "SCENARIO.VARIANT.seedS", name "run"                    status error/timeout -> <error>, skipped -> <skipped>
    classname "SCENARIO.VARIANT.seedS", name "EXPECTATION"            false -> <failure>, n/a -> <skipped>
    classname "SCENARIO.VARIANT",       name "EXPECTATION [pass rate >= 0.8]"   only for lines with a pass_rate

An expectation with a ``pass_rate`` is judged over the seeds, so its per-seed testcases
never fail on their own (a failing seed is ``<skipped>`` with the observed value) and one
per-variant testcase carries the verdict. Expectations of a run that errored are
``<skipped>`` (the run's own ``run`` testcase has the error). Counts on every suite and
on ``<testsuites>`` are ``tests``, ``failures``, ``errors``, ``skipped`` and ``time``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FLAG = "--junit"
HELP = "Write JUnit XML (one testcase per run and per run x expectation) here, for CI."


def _observed(entry: dict[str, Any]) -> str:
    value = entry.get("observed")
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _case(suite: ET.Element, classname: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def suite_element(report: dict[str, Any]) -> ET.Element:
    from harness.judging.verdicts import run_failed
    from harness.reports.outcomes import outcome
    from harness.reports.tables import summaries_of

    scenario = report["scenario"]["name"]
    suite = ET.Element("testsuite", name=scenario)
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("torch_version", report.get("torch_version")),
        ("harness_version", report.get("harness_version")),
        ("scenario_path", report["scenario"].get("path")),
    ):
        ET.SubElement(props, "property", name=key, value=str(value))
    for run in report["runs"]:
        classname = f"{scenario}.{run['variant']}.seed{run['seed']}"
        case = _case(suite, classname, "run", float(run.get("seconds") or 0.0))
        failed_run = run_failed(run)  # an error a line expects (status == error) is judged like any run
        if failed_run:
            message = (run.get("error") or {}).get("message", run["status"])
            error = ET.SubElement(case, "error", message=message, type=run["status"])
            error.text = (run.get("error") or {}).get("traceback") or message
        elif run["status"] == "skipped":  # early decisions: the variant's verdict was decided without it
            ET.SubElement(case, "skipped", message=f"not run: {(run.get('skipped') or {}).get('reason', 'skipped')}")
        for entry in run["expectations"]:
            case = _case(suite, classname, entry["name"])
            if failed_run:
                ET.SubElement(case, "skipped", message=f"not evaluated: the run ended with status {run['status']}")
            elif entry.get("open"):  # a run stopped when its verdict was decided, or skipped
                ET.SubElement(case, "skipped", message=f"not judged ({entry.get('reason') or 'open'})")
            elif entry.get("passed") is None:
                reason = entry.get("reason") or f"when torch {entry.get('when')}"
                ET.SubElement(case, "skipped", message=f"not applicable ({reason})")
            elif entry["passed"] is False and entry.get("pass_rate"):
                ET.SubElement(
                    case,
                    "skipped",
                    message=f"failed on this seed (observed {_observed(entry)}); judged over seeds with pass rate "
                    f"{entry['pass_rate']}: see {scenario}.{run['variant']}",
                )
            elif entry["passed"] is False:
                failure = ET.SubElement(case, "failure", message=f"observed {_observed(entry)}", type="expectation")
                failure.text = f"{entry['name']}: observed {_observed(entry)}"
    for variant, summary in summaries_of(report).items():
        findings = sum(len(r.get("findings") or []) for r in report["runs"] if r["variant"] == variant)
        # each variant's outcome in harness run's words: PASS reproduced, FAIL not cured, 3 findings
        ET.SubElement(props, "property", name=f"outcome.{variant}", value=outcome(summary, findings)[0])
        for row in summary["expectations"]:
            if not row["pass_rate"]:
                continue
            case = _case(suite, f"{scenario}.{variant}", f"{row['name']} [pass rate {row['pass_rate']}]")
            if not row["ok"]:
                ET.SubElement(
                    case,
                    "failure",
                    type="pass_rate",
                    message=f"{row['passed']}/{row['applicable']} seeds passed, needs {row['pass_rate']}",
                )
    _count(suite)
    return suite


def _count(element: ET.Element) -> None:
    cases = element.iter("testcase")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for case in cases:
        counts["tests"] += 1
        counts["failures"] += case.find("failure") is not None
        counts["errors"] += case.find("error") is not None
        counts["skipped"] += case.find("skipped") is not None
        seconds += float(case.get("time", 0))
    for key, value in counts.items():
        element.set(key, str(value))
    element.set("time", f"{seconds:.3f}")


def to_xml(payload: dict[str, Any]) -> ET.ElementTree:
    from harness.reports import reports_of

    root = ET.Element("testsuites", name="harness")
    for report in reports_of(payload):
        root.append(suite_element(report))
    _count(root)
    return ET.ElementTree(root)


def write(path: str | Path, payload: dict[str, Any]) -> None:
    from harness.execution.atomic_io import write_atomic

    tree = to_xml(payload)
    ET.indent(tree)
    root = tree.getroot()
    assert root is not None  # to_xml builds the tree around its root element
    write_atomic(Path(path), ET.tostring(root, encoding="utf-8", xml_declaration=True))
