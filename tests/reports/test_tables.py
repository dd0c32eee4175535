"""The rows and numbers both the terminal and the HTML report show (harness.reports.tables),
written once and rendered in each report's markup."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from harness.reports import tables


def test_numbers_read_the_same_in_every_report() -> None:
    assert tables.number_text(0.81234) == "0.812"
    assert tables.number_text(12345.0) == "1.23e+04" and tables.number_text(1e-5) == "1.00e-05"
    assert tables.number_text(float("nan")) == "nan" and tables.number_text(0.0) == "0.000"
    assert tables.number_text(None) == "-" and tables.number_text(None, missing="–") == "–"
    assert tables.number_text(3) == "3" and tables.number_text("ok") == "ok"
    assert tables.number_text(2.5, 1) == "2.5"


def test_mean_std_shows_the_mean_alone_for_one_seed_and_the_std_in_the_means_notation() -> None:
    def text(stat: dict | None) -> str:
        return tables.mean_std_text(stat, separator="±", missing="-")

    assert text({"mean": 0.725, "std": 0.1767, "n": 2}) == "0.725±0.177"
    assert text({"mean": 0.725, "std": 0.0, "n": 1}) == "0.725"
    assert text({"mean": 3.9e5, "std": 1.2e4, "n": 3}) == "3.90e+05±1.20e+04"
    assert text({"mean": None, "n": 0}) == "-" and text(None) == "-"
    assert tables.mean_std_text({"mean": 0.5, "std": 0.25, "n": 2}, separator=" ± ", missing="–") == "0.500 ± 0.250"


def _run(variant: str, seed: int, f1: float | None) -> dict:
    history = [] if f1 is None else [{"epoch": 1, "f1": f1 / 2}, {"epoch": 2, "f1": f1}]
    findings = [{"kind": "collapse", "epoch": 2}, {"kind": "saturation", "epoch": 1}, {"kind": "collapse", "epoch": 1}]
    return {
        "variant": variant,
        "seed": seed,
        "history": history,
        "findings": findings,
        "expectations": [{"name": "final.f1 >= 0.5", "passed": bool(f1 and f1 >= 0.5)}],
    }


def test_summary_rows_hold_a_stat_per_declared_metric_from_the_summary_else_the_runs() -> None:
    report = {
        "runs": [_run("a", 0, 0.4), _run("a", 1, 0.8), _run("b", 0, None)],
        "variants": {"a": {"metrics": {}}, "b": {"metrics": {"f1": {"mean": 0.1, "std": 0.0, "n": 1}}}},
    }
    rows = tables.summary_rows(report, ["f1"])
    assert [r.name for r in rows] == ["a", "b"] and [len(r.runs) for r in rows] == [2, 1]
    assert rows[0].stats[0]["mean"] == pytest.approx(0.6) and rows[0].stats[0]["n"] == 2  # from the runs' final values
    assert rows[1].stats == [{"mean": 0.1, "std": 0.0, "n": 1}]  # the saved summary wins


def test_runs_findings_and_expectations_are_looked_up_once() -> None:
    run = _run("a", 0, 0.8)
    assert tables.findings_by_kind(run) == {"collapse": [2, 1], "saturation": [1]}
    assert tables.last_epoch(run) == {"epoch": 2, "f1": 0.8} and tables.last_epoch(_run("a", 1, None)) == {}
    assert tables.expectation_entry(run, "final.f1 >= 0.5")["passed"] is True
    assert tables.expectation_entry(run, "no such line") is None
    assert tables.seeds_of({"runs": [_run("a", 2, 0.1), _run("b", 0, 0.1)]}) == [0, 2]


ABLATION = {
    "base": {"variant": "broken", "passed_runs": 0, "runs": 2, "cured": False},
    "target": {"variant": "fixed", "passed_runs": 2, "runs": 2, "cured": True},
    "base_reproduces": {"passed_runs": 2, "runs": 2},
    "fixes": [
        {
            "plugin": "grad_clip",
            "change": "off -> on",
            "sufficient": True,
            "necessary": None,
            "base_plus_fix": {"variant": "broken+grad_clip", "passed_runs": 2, "runs": 2},
            "target_minus_fix": {"variant": "fixed-grad_clip", "passed_runs": 1, "runs": 1, "skipped": 1},
        }
    ],
}


def test_ablation_rows_are_one_layout_in_each_markup() -> None:
    cells = tables.AblationCells(
        name=str.upper,
        change=str,
        arm=lambda a: f"{a['passed_runs']}/{a['runs']}",
        verdict=lambda v: {True: "YES", False: "no", None: "n/a"}[v],
    )
    [row] = tables.ablation_rows(ABLATION, cells)
    assert row == ["GRAD_CLIP", "off -> on", "2/2", "YES", "1/1", "n/a"]
    assert len(row) == len(tables.ABLATION_COLUMNS) and set(tables.ABLATION_COLUMNS) > tables.ABLATION_COUNTS
    assert tables.cured_text(ABLATION["base"]) == "not cured" and tables.cured_text(ABLATION["target"]) == "cured"
    assert tables.reproduces_text(ABLATION) == "reproduced the incident on 2/2 seeds, by its own expectations"
    assert tables.reproduces_text({}) == ""


def test_the_terminal_and_html_ablation_tables_show_the_same_rows() -> None:
    from harness.reports.html import ablation_table as html_table
    from harness.reports.terminal_ablation import ablation_section

    console = Console(width=80, record=True, color_system=None)
    console.print(ablation_section(console, ABLATION))
    text = console.export_text()
    assert re.search(r"grad_clip +off -> on +2/2 +YES +1/1\+1 +n/a", text)
    html = html_table(ABLATION)
    assert (
        "<td><code>grad_clip</code></td><td>off -&gt; on</td><td class='num'><a href='#v-broken+grad_clip'>2/2</a>"
        in html
    )
    assert "<a href='#v-fixed-grad_clip'>1/1 (1 skipped)</a>" in html and "<span class='na'>n/a</span>" in html
