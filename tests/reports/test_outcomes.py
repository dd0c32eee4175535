"""One vocabulary for a variant's outcome, the next step after `harness run`, no trailing spaces."""

from __future__ import annotations

import sys
from io import StringIO
from typing import Any

import pytest

from harness.cli.console import terminal
from harness.reports.outcomes import LEGEND, ablate_next_steps, doctor_next_steps, next_steps, outcome


def summary(lines: list[str], passed: bool) -> dict[str, Any]:
    return {"passed": passed, "expectations": [{"name": line} for line in lines]}


def test_a_variant_reads_reproduced_or_cured_by_what_its_expectations_say() -> None:
    assert outcome(summary(["finding collapse by epoch 2", "final.f1 <= 0.05"], True), 3) == (
        "PASS reproduced",
        "green",
    )
    assert outcome(summary(["finding collapse"], False), 0) == ("FAIL not reproduced", "red")
    assert outcome(summary(["status == error"], True), 0)[0] == "PASS reproduced"
    assert outcome(summary(["final.f1 >= 0.8", "no finding collapse"], True), 0) == ("PASS cured", "green")
    assert outcome(summary(["final.f1 >= 0.8"], False), 0) == ("FAIL not cured", "red")
    assert "reproduced" in LEGEND and "cured" in LEGEND


def test_an_outcome_that_names_a_failure_reads_as_reproduced() -> None:
    from harness.reports.outcomes import reproduces

    assert reproduces(["status == ok", "outcome.checkpoint_roundtrip == fails"])
    assert reproduces(["outcome.checkpoint_error == UnpicklingError"])
    assert not reproduces(["status == ok", "outcome.checkpoint_roundtrip == ok", "final.f1 >= 0.8"])


def test_findings_without_expectations_never_read_as_a_bare_pass() -> None:
    assert outcome(summary([], True), 3) == ("3 findings", "yellow")
    assert outcome(summary([], True), 1)[0] == "1 finding"
    assert outcome(summary([], True), 0)[0] == "no findings"


def report(variants: dict[str, tuple[list[str], bool]], findings: dict[str, int]) -> dict[str, Any]:
    return {
        "variants": {name: summary(lines, passed) for name, (lines, passed) in variants.items()},
        "runs": [{"variant": name, "findings": [{"kind": "x"}] * n} for name, n in findings.items()],
    }


def test_after_a_reproduced_incident_run_suggests_ablate_and_doctor() -> None:
    r = report({"broken": (["finding collapse"], True), "fixed": (["final.f1 >= 0.8"], True)}, {"broken": 2})
    steps = next_steps(r, "s.yaml")
    assert steps[0].startswith("harness ablate s.yaml") and steps[1].startswith(
        "harness doctor s.yaml --variant broken"
    )


def test_after_findings_without_expectations_doctor_and_after_a_failed_cure_ablate() -> None:
    assert next_steps(report({"mine": ([], True)}, {"mine": 1}), "s.yaml") == [
        "harness doctor s.yaml --variant mine (propose fixes)"
    ]
    failed = next_steps(report({"fixed": (["final.f1 >= 0.8"], False)}, {}), "s.yaml")
    assert failed == ["harness ablate s.yaml (why the cure fails)"]
    assert next_steps(report({"fixed": (["final.f1 >= 0.8"], True)}, {}), "s.yaml") == []


def test_after_ablate_a_cure_becomes_a_test_and_a_failed_one_goes_to_the_doctor() -> None:
    assert ablate_next_steps({"passed": True}, "s.yaml", "broken") == ["pytest s.yaml (keep the cure as a test)"]
    assert ablate_next_steps({"passed": False}, "s.yaml", "broken") == [
        "harness doctor s.yaml --variant broken (propose fixes)"
    ]


def test_after_doctor_a_proven_fix_is_replayed_and_none_widens_the_search() -> None:
    proven = doctor_next_steps({"doctor": {"best": {"arm": "broken+grad_clip"}}}, "s.yaml", "broken")
    assert proven == ["harness run s.yaml (with the variant above)"]
    assert "--max-combination 3" in doctor_next_steps({"doctor": {"best": None}}, "s.yaml", "broken")[0]


def test_the_console_writes_no_trailing_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.table import Table

    out = StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    console = terminal()
    table = Table(title="a title")
    table.add_column("name")
    table.add_row("x")
    table.add_row("a much longer row")
    console.print(table)
    console.print("partial   ", end="")  # a line written in parts: its trailing spaces wait
    console.print("and the rest   ", end="")
    console.print()
    text = out.getvalue()
    assert "a much longer row" in text and text.endswith("partial   and the rest\n")
    assert all(line == line.rstrip() for line in text.splitlines())


def test_sparklines_share_one_scale_per_metric_and_print_it() -> None:
    from harness.reports.tables import metric_ranges, sparkline

    report = {"runs": [{"history": [{"f1": 0.352}, {"f1": 0.370}]}, {"history": [{"f1": 0.0}, {"f1": 1.0}]}]}
    assert metric_ranges(report, ["f1"]) == {"f1": (0.0, 1.0)}
    assert sparkline([0.352, 0.370], scale=(0.0, 1.0)) == "▃▄"  # not ▁█: a small change stays small
    assert sparkline([1.0, 1.0, 1.0], scale=(0.0, 1.0)) == "███"  # a constant 1.0 at the top, not the bottom
    assert sparkline([0.352, 0.370]) == "▁█"  # without a scale: the values' own range


def test_the_overrides_are_given_as_typed() -> None:
    from harness.cli.options import PluginFlags

    flags = PluginFlags(with_=("grad_clip",), without=("class_weights",), sets=("train.lr=0.1",))
    assert flags.given((1, 2), None) == "--with grad_clip --without class_weights --set train.lr=0.1 --seed 1 --seed 2"
    assert PluginFlags((), (), ()).given((), 3) == "--seeds 3"
    assert PluginFlags((), (), ()).given() == ""


def test_a_decided_run_shows_the_steps_it_trained() -> None:
    from rich.console import Console

    from harness.execution.records import RunKey
    from harness.reports.progress import RunProgress

    key = RunKey("broken", 0)
    with RunProgress(Console(file=StringIO()), [key], enabled=True, metric=None) as progress:
        for event, value in (("start", None), ("total", 170), ("advance", 68), ("done", {"status": "decided"})):
            progress.event(key, event, value)
        [task] = progress.progress.tasks
        assert (task.completed, task.total) == (68, 170)


def test_the_html_summary_leaves_out_an_empty_description_column() -> None:
    from harness.reports.html import summary_table

    summaries = {"broken": {"passed": True, "passed_runs": 1, "runs": 1, "expectations": [{"name": "finding x"}]}}
    report = {"scenario": {"name": "s", "key_metrics": []}, "runs": [], "variants": summaries}
    html = summary_table(report, summaries)
    assert "<th>description</th>" not in html and "PASS reproduced" in html
    summaries["broken"]["description"] = "v1.5"
    assert "<th>description</th>" in summary_table(report, summaries)


def test_the_html_plugin_list_shows_the_fixes_and_folds_the_monitors() -> None:
    from harness.reports.html import plugins_table

    run = {"seed": 0, "plugins": {"grad_clip": {"max_norm": 1.0}, "non_finite": {}, "defaults": {}}, "trace": {}}
    kinds = {"grad_clip": "fix", "non_finite": "monitor", "defaults": "core"}
    html = plugins_table(run, kinds, "plugins on", open_plugins=True)
    fixes, monitors = html.split("<details><summary>monitors and core: 2</summary>")
    assert "grad_clip" in fixes and "non_finite" not in fixes and "non_finite" in monitors


def test_a_script_scenario_is_not_sent_to_ablate_or_doctor_which_do_not_run_scripts() -> None:
    r = report({"broken": (["finding collapse"], True), "fixed": (["final.f1 >= 0.8"], False)}, {"broken": 2})
    assert next_steps(r, "s.yaml")  # a workload's
    assert next_steps({**r, "scenario": {"workload": "script"}}, "s.yaml") == []
