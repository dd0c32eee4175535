"""`harness compare` on scripted reports: what differs per variant and seed, and nothing else."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from harness.cli import main
from harness.judging.compare import Difference, column_labels, compare_reports


def run(
    variant: str, seed: int = 0, status: str = "ok", outcomes: dict | None = None, expectations: list | None = None
) -> dict:
    return {
        "variant": variant,
        "seed": seed,
        "status": status,
        "history": [{"epoch": 1, "f1": 0.5}],
        "outcomes": outcomes or {},
        "expectations": expectations or [],
    }


def exp(name: str, passed: bool | None, when: str | None = None) -> dict:
    entry: dict[str, Any] = {"name": name, "passed": passed, "observed": None}
    if when:
        entry["when"] = when
    return entry


FAILS = "outcome.checkpoint_roundtrip == fails"
OK = "outcome.checkpoint_roundtrip == ok"


def report(torch_version: str, broken: dict, fixed: dict) -> dict:
    return {
        "schema_version": 1,
        "torch_version": torch_version,
        "scenario": {"name": "checkpoint_compat"},
        "runs": [broken, fixed],
        "passed": True,
    }


TORCH25 = report(
    "2.5.1",
    run(
        "broken",
        outcomes={"checkpoint_roundtrip": "ok", "checkpoint_load_warning": "FutureWarning"},
        expectations=[exp("status == ok", True), exp(FAILS, None, ">=2.6"), exp(OK, True, "<2.6")],
    ),
    run("fixed", outcomes={"checkpoint_roundtrip": "ok"}, expectations=[exp(OK, True)]),
)
TORCH26 = report(
    "2.6.0",
    run(
        "broken",
        outcomes={"checkpoint_roundtrip": "fails", "checkpoint_error": "UnpicklingError"},
        expectations=[exp("status == ok", True), exp(FAILS, True, ">=2.6"), exp(OK, None, "<2.6")],
    ),
    run("fixed", outcomes={"checkpoint_roundtrip": "ok"}, expectations=[exp(OK, True)]),
)


def test_only_the_broken_round_trip_differs() -> None:
    differences, total = compare_reports(TORCH25, TORCH26)
    assert total == 2
    assert differences == [
        Difference("checkpoint_compat", "broken", 0, "outcome checkpoint_error", "-", "UnpicklingError"),
        Difference("checkpoint_compat", "broken", 0, "outcome checkpoint_load_warning", "FutureWarning", "-"),
        Difference("checkpoint_compat", "broken", 0, "outcome checkpoint_roundtrip", "ok", "fails"),
        Difference("checkpoint_compat", "broken", 0, f"expect {FAILS!r} [torch>=2.6]", "n/a", "passed"),
        Difference("checkpoint_compat", "broken", 0, f"expect {OK!r} [torch<2.6]", "passed", "n/a"),
    ]


def test_status_missing_runs_and_failed_expectations() -> None:
    b = copy.deepcopy(TORCH26)
    b["runs"][1]["status"] = "error"
    b["runs"][1]["expectations"] = [exp(OK, False)]
    b["runs"].append(run("fixed", seed=1))
    differences, total = compare_reports(TORCH26, b)
    assert total == 3
    assert differences == [
        Difference("checkpoint_compat", "fixed", 0, "status", "ok", "error"),
        Difference("checkpoint_compat", "fixed", 0, f"expect {OK!r}", "passed", "failed"),
        Difference("checkpoint_compat", "fixed", 1, "run", "absent", "present"),
    ]


def test_pytest_harness_json_files_pair_runs_by_scenario() -> None:
    other = copy.deepcopy(TORCH26)
    other["scenario"]["name"] = "issue11"
    a = {"schema_version": 1, "reports": [copy.deepcopy(other) | {"torch_version": "2.5.1"}, TORCH25], "passed": True}
    b = {"schema_version": 1, "reports": [TORCH26, other], "passed": True}
    differences, total = compare_reports(a, b)
    assert total == 4
    assert {d.scenario for d in differences} == {"checkpoint_compat"}  # issue11 is the same in both
    assert len(differences) == 5
    assert column_labels(a, b) == ("torch 2.5.1", "torch 2.6.0")


def test_metric_values_are_not_differences() -> None:
    b = copy.deepcopy(TORCH25)
    b["runs"][0]["history"][0]["f1"] = 0.5000001
    assert compare_reports(TORCH25, b) == ([], 2)


def write(tmp_path: Path, name: str, payload: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return str(path)


def test_cli_prints_the_difference_per_variant_under_each_version(tmp_path: Path) -> None:
    a, b = write(tmp_path, "a.json", TORCH25), write(tmp_path, "b.json", TORCH26)
    result = CliRunner().invoke(main, ["compare", a, b], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "torch 2.5.1" in result.output and "torch 2.6.0" in result.output
    lines = result.output.splitlines()
    heading = lines.index("checkpoint_compat · broken · seed 0")  # one heading per run that differs
    assert re.split(r"\s{2,}", lines[heading + 1].strip()) == ["what differs", "torch 2.5.1", "torch 2.6.0"]
    row = next(line for line in lines if "outcome checkpoint_roundtrip" in line)
    assert re.split(r"\s{2,}", row.strip()) == ["outcome checkpoint_roundtrip", "ok", "fails"]
    assert "[torch>=2.6]" in result.output  # rich markup must not swallow the condition
    assert "1 of 2 run(s) differ" in result.output
    assert "· fixed ·" not in result.output
    assert CliRunner().invoke(main, ["compare", a, b, "--exit-code"]).exit_code == 1


def test_cli_identical_reports_and_bad_input(tmp_path: Path) -> None:
    a = write(tmp_path, "a.json", TORCH26)
    same = CliRunner().invoke(main, ["compare", a, a, "--exit-code"])
    assert same.exit_code == 0 and "no differences in status, outcomes or expectations (2 run(s))" in same.output
    not_report = write(tmp_path, "x.json", {"hello": 1})
    bad = CliRunner().invoke(main, ["compare", a, not_report])
    assert bad.exit_code == 2 and "not a harness report" in bad.output
    missing = CliRunner().invoke(main, ["compare", a, str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.output
