"""The file reports (JSON, JUnit XML, HTML) and the 80-column terminal report, on a scripted
suite report, and `harness report` re-rendering a saved one without training."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from harness.cli import main
from harness.reports import FILE_REPORTS, renderer, write_reports


def run(variant: str, seed: int, *, f1: list[float], status: str = "ok", exps: list[tuple[str, bool | None, str | None]],
        lr: list[float] | None = None) -> dict:
    history = [
        {"epoch": i + 1, "f1": v, "auc": 0.5 + v / 2, "loss": 0.7 - v / 2, "pred_positive_share": 0.1 + v / 2, "lr": 1e-3}
        for i, v in enumerate(f1)
    ]
    record = {
        "variant": variant, "seed": seed, "status": status, "seconds": 1.5,
        "plugins": {"defaults": {}, "linear_warmup": {"interval": "step" if variant == "fixed" else "epoch"},
                    "prediction_distribution": {"min_share": 0.0}},
        "train": {}, "history": history, "findings": [{"kind": "collapse", "epoch": 1, "plugin": "prediction_distribution",
                                                        "message": "", "step": 3, "value": 0.0}] if variant == "broken" else [],
        "expectations": [
            {"name": n, "passed": p, "observed": 0.5, **({"pass_rate": r} if r else {})} for n, p, r in exps
        ],
        "trace": {"on_step": {"linear_warmup": 9}}, "outcomes": {}, "lr_per_step": lr or [1e-3 * (1 - i / 9) for i in range(9)],
        "steps": 9,
    }
    if status == "error":
        record["error"] = {"message": "RuntimeError: boom", "traceback": "Traceback ...\nRuntimeError: boom"}
    return record


def scripted_report() -> dict:
    from harness.runner import SCHEMA_VERSION
    from harness.verdicts import suite_passed, summarize_variants

    runs = [
        run("broken", 0, f1=[0.0, 0.0, 0.0], exps=[("final.f1 <= 0.05", True, None)], lr=[0.0] * 3 + [1e-5] * 6),
        run("broken", 1, f1=[0.0, 0.1, 0.0], exps=[("final.f1 <= 0.05", True, None)], lr=[0.0] * 3 + [1e-5] * 6),
        run("fixed", 0, f1=[0.3, 0.7, 0.85], exps=[("final.f1 >= 0.8", True, ">= 0.5"), ("status == ok", True, None),
                                                  ("outcome.x == ok", None, None)]),
        run("fixed", 1, f1=[0.2, 0.5, 0.6], exps=[("final.f1 >= 0.8", False, ">= 0.5"), ("status == ok", True, None),
                                                 ("outcome.x == ok", None, None)]),
        run("fixed", 2, f1=[], status="error", exps=[("final.f1 >= 0.8", False, ">= 0.5"), ("status == ok", False, None),
                                                    ("outcome.x == ok", None, None)]),
    ]
    variants = summarize_variants(runs)
    return {
        "schema_version": SCHEMA_VERSION, "harness_version": "0.1.0", "torch_version": "2.13.0+cpu",
        "scenario": {"name": "scripted", "path": "scenarios/scripted.yaml", "workload": "devign", "workload_params": {}},
        "seeds": [0, 1, 2], "runs": runs, "variants": variants, "passed": suite_passed(variants),
        "ablation": {
            "base": {"variant": "broken", "passed_runs": 0, "runs": 2, "cured": False, "seeds_disagree": False},
            "target": {"variant": "fixed", "passed_runs": 1, "runs": 3, "cured": False, "seeds_disagree": True},
            "fixes": [{"plugin": "linear_warmup", "base": {"interval": "epoch"}, "target": {"interval": "step"},
                       "change": "interval: epoch -> step",
                       "base_plus_fix": {"variant": "broken+linear_warmup", "passed_runs": 2, "runs": 2, "cured": True,
                                         "seeds_disagree": False},
                       "target_minus_fix": {"variant": "fixed-linear_warmup", "passed_runs": 0, "runs": 2, "cured": False,
                                            "seeds_disagree": False},
                       "sufficient": True, "necessary": None}],
            "warnings": ["the target 'fixed' itself does not pass its expectations: 'necessary' is n/a"],
            "rule_text": "every expectation of 'fixed' holds on every seed",
        },
    }


def test_renderers_share_one_interface() -> None:
    assert set(FILE_REPORTS) == {"json", "junit", "html"}
    for name in FILE_REPORTS:
        module = renderer(name)
        assert module.FLAG == f"--{name}" and module.HELP and callable(module.write)


def test_junit_has_one_testcase_per_run_and_expectation_with_the_right_counts(tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    write_reports(scripted_report(), {"junit": path})
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    # 5 runs + 2*1 + 3*3 expectations + 1 per-variant pass-rate case
    assert len(cases) == 5 + 2 + 9 + 1
    # failures: fixed's pass-rate line (1 of 3 seeds < 0.5); skipped: seed 1's failing pass-rate line, the 3 lines
    # of the errored seed 2, the n/a outcome line of seeds 0 and 1
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("17", "1", "1", "6")
    assert root.get("tests") == "17" and root.get("errors") == "1"
    by_id = {(c.get("classname"), c.get("name")): c for c in cases}
    assert by_id[("scripted.fixed.seed2", "run")].find("error").get("message") == "RuntimeError: boom"
    # a failing seed of a pass-rate line is judged over seeds: skipped here, verdict on the variant case
    assert "pass rate >= 0.5" in by_id[("scripted.fixed.seed1", "final.f1 >= 0.8")].find("skipped").get("message")
    rate_case = by_id[("scripted.fixed", "final.f1 >= 0.8 [pass rate >= 0.5]")]
    assert rate_case.find("failure").get("message") == "1/3 seeds passed, needs >= 0.5"
    assert by_id[("scripted.fixed.seed0", "outcome.x == ok")].find("skipped") is not None


def test_junit_passes_the_variant_case_when_the_pass_rate_is_met(tmp_path: Path) -> None:
    report = scripted_report()
    report["runs"][4]["status"] = "ok"  # seed 2 finishes and passes: 2 of 3 seeds >= 0.5
    report["runs"][4]["expectations"][0]["passed"] = True
    report["runs"][4]["expectations"][1]["passed"] = True
    from harness.verdicts import summarize_variants

    report["variants"] = summarize_variants(report["runs"])
    path = tmp_path / "r.xml"
    write_reports(report, {"junit": path})
    suite = ET.parse(path).getroot().find("testsuite")
    assert [c for c in suite.findall("testcase") if c.find("failure") is not None or c.find("error") is not None] == []
    assert suite.get("failures") == "0" and suite.get("errors") == "0" and suite.get("skipped") == "4"
    assert report["variants"]["fixed"]["passed"] is True


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_with_plots_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    write_reports(scripted_report(), {"html": path})
    text = path.read_text()
    parser = _Collect()
    parser.feed(text)
    tags = [t for t, _ in parser.tags]
    # no external resource of any kind
    for tag, attrs in parser.tags:
        assert not any(k in attrs for k in ("src", "href") if not str(attrs.get(k, "#")).startswith("#")), (tag, attrs)
    assert "<script" not in text
    # one chart per variant and quantity: loss, F1, AUC, LR per step, predicted-positive share
    assert tags.count("svg") == 2 * 5
    assert len(re.findall(r"<polyline", text)) >= 2 * 5 + 2 * 4  # seeds overlaid
    for title in ("training loss / epoch", "F1 / epoch", "AUC / epoch", "learning rate / step", "predicted-positive share / epoch"):
        assert title in text
    assert "Ablation: broken → fixed" in text and "interval: epoch -&gt; step" in text
    assert "seeds disagree" in text
    assert "RuntimeError: boom" in text
    assert "final.f1 &gt;= 0.8" in text and "&gt;= 0.5" in text


def test_line_chart_skips_non_finite_points_and_uses_a_log_axis_for_exploding_values() -> None:
    from harness.reports.html import _ranges, line_chart, nice_ticks

    svg = line_chart([{"label": "s", "colour": "#000", "points": [(1, 1.0), (2, float("nan")), (3, 2.0), (4, 3.0)]}],
                     x_range=(1, 4), y_range=(0, 3))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3
    runs = [{"history": [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 600.0}, {"epoch": 3, "loss": 1e4}]}]
    _, (lo, hi), log_y = _ranges(runs, "loss")
    assert log_y and lo == 1.0 and hi == 1e4
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1.0]


def test_terminal_report_fits_80_columns_and_shows_plugins_and_pass_counts() -> None:
    from harness.reports.terminal import print_report

    console = Console(width=80, record=True, color_system=None)
    print_report(console, scripted_report())
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "linear_warmup(interval=step)" in text and "linear_warmup(interval=epoch)" in text
    assert re.search(r"fixed\s+1/3\*\s+0\.725±0\.177", text)  # pass count (* seeds disagree), mean±std of the final F1
    assert "* seeds disagree" in text
    assert "seeds disagree" in text
    assert "1/2 final.f1 >= 0.8 (needs >= 0.5)" not in text  # an errored seed counts against the line
    assert "1/3 final.f1 >= 0.8 (needs >= 0.5)" in text
    assert re.search(r"linear_warmup +interval: epoch -> step", text)
    assert "RuntimeError: boom" in text


def test_report_command_rerenders_a_saved_report_without_training(tmp_path: Path) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(scripted_report()))
    html, xml, again = tmp_path / "out.html", tmp_path / "out.xml", tmp_path / "again.json"
    result = CliRunner().invoke(main, ["report", str(saved), "--html", str(html), "--junit", str(xml), "--json", str(again)],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "<svg" in html.read_text() and ET.parse(xml).getroot().get("tests") == "17"
    assert json.loads(again.read_text()) == json.loads(saved.read_text())
    assert "scripted" in result.output
    # an older report without the per-variant summaries is summarised on the fly
    old = scripted_report()
    del old["variants"], old["seeds"], old["ablation"]
    saved.write_text(json.dumps({"schema_version": 1, "reports": [old], "passed": False}))
    result = CliRunner().invoke(main, ["report", str(saved), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "1/3" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(main, ["report", str(bad)])
    assert result.exit_code == 2 and "not a harness report" in result.output


@pytest.mark.parametrize("name", ["json", "junit", "html"])
def test_writes_are_atomic_and_create_parent_directories(tmp_path: Path, name: str) -> None:
    path = tmp_path / "deep" / "dir" / f"r.{name}"
    write_reports(scripted_report(), {name: path})
    assert path.exists() and not list(path.parent.glob(".*tmp*"))
