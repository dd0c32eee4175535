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


def run(
    variant: str,
    seed: int,
    *,
    f1: list[float],
    status: str = "ok",
    exps: list[tuple[str, bool | None, str | None]],
    lr: list[float] | None = None,
) -> dict:
    history = [
        {
            "epoch": i + 1,
            "f1": v,
            "auc": 0.5 + v / 2,
            "loss": 0.7 - v / 2,
            "pred_positive_share": 0.1 + v / 2,
            "max_pred_share": 0.9 - v / 2,
            "n": 40,
            "lr": 1e-3,
        }
        for i, v in enumerate(f1)
    ]
    record = {
        "variant": variant,
        "seed": seed,
        "status": status,
        "seconds": 1.5,
        "plugins": {
            "defaults": {},
            "linear_warmup": {"interval": "step" if variant == "fixed" else "epoch"},
            "prediction_distribution": {"min_share": 0.0},
        },
        "train": {},
        "history": history,
        "findings": [
            {
                "kind": "collapse",
                "epoch": 1,
                "plugin": "prediction_distribution",
                "message": "",
                "step": 3,
                "value": 0.0,
            }
        ]
        if variant == "broken"
        else [],
        "expectations": [
            {"name": n, "passed": p, "observed": 0.5, **({"pass_rate": r} if r else {})} for n, p, r in exps
        ],
        "trace": {"on_step": {"linear_warmup": 9}},
        "outcomes": {},
        "lr_per_step": lr or [1e-3 * (1 - i / 9) for i in range(9)],
        "steps": 9,
    }
    if status == "error":
        record["error"] = {"message": "RuntimeError: boom", "traceback": "Traceback ...\nRuntimeError: boom"}
    return record


KEY_METRICS = [
    "f1",
    "max_pred_share",
    "loss",
]  # what a classification workload declares (Workload.declared_key_metrics())


def scripted_report() -> dict:
    from harness.execution.records import SCHEMA_VERSION
    from harness.judging.verdicts import suite_passed, summarize_variants

    runs = [
        run("broken", 0, f1=[0.0, 0.0, 0.0], exps=[("final.f1 <= 0.05", True, None)], lr=[0.0] * 3 + [1e-5] * 6),
        run("broken", 1, f1=[0.0, 0.1, 0.0], exps=[("final.f1 <= 0.05", True, None)], lr=[0.0] * 3 + [1e-5] * 6),
        run(
            "fixed",
            0,
            f1=[0.3, 0.7, 0.85],
            exps=[("final.f1 >= 0.8", True, ">= 0.5"), ("status == ok", True, None), ("outcome.x == ok", None, None)],
        ),
        run(
            "fixed",
            1,
            f1=[0.2, 0.5, 0.6],
            exps=[("final.f1 >= 0.8", False, ">= 0.5"), ("status == ok", True, None), ("outcome.x == ok", None, None)],
        ),
        run(
            "fixed",
            2,
            f1=[],
            status="error",
            exps=[("final.f1 >= 0.8", False, ">= 0.5"), ("status == ok", False, None), ("outcome.x == ok", None, None)],
        ),
    ]
    variants = summarize_variants(runs, KEY_METRICS)
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": "0.1.0",
        "torch_version": "2.13.0+cpu",
        "scenario": {
            "name": "scripted",
            "path": "scenarios/scripted.yaml",
            "workload": "devign",
            "workload_params": {},
            "key_metrics": KEY_METRICS,
        },
        "seeds": [0, 1, 2],
        "runs": runs,
        "variants": variants,
        "passed": suite_passed(variants),
        "ablation": {
            "base": {"variant": "broken", "passed_runs": 0, "runs": 2, "cured": False, "seeds_disagree": False},
            "target": {"variant": "fixed", "passed_runs": 1, "runs": 3, "cured": False, "seeds_disagree": True},
            "fixes": [
                {
                    "plugin": "linear_warmup",
                    "base": {"interval": "epoch"},
                    "target": {"interval": "step"},
                    "change": "interval: epoch -> step",
                    "base_plus_fix": {
                        "variant": "broken+linear_warmup",
                        "passed_runs": 2,
                        "runs": 2,
                        "cured": True,
                        "seeds_disagree": False,
                    },
                    "target_minus_fix": {
                        "variant": "fixed-linear_warmup",
                        "passed_runs": 0,
                        "runs": 2,
                        "cured": False,
                        "seeds_disagree": False,
                    },
                    "sufficient": True,
                    "necessary": None,
                }
            ],
            "warnings": ["the target 'fixed' itself does not pass its expectations: 'necessary' is n/a"],
            "rule_text": "every expectation of 'fixed' holds on every seed",
        },
    }


def test_renderers_share_one_interface() -> None:
    assert set(FILE_REPORTS) == {"json", "junit", "html", "tensorboard", "mlflow"}
    for name in FILE_REPORTS:
        module = renderer(name)
        assert f"--{name}" == module.FLAG and module.HELP and callable(module.write)


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
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "17",
        "1",
        "1",
        "6",
    )
    assert root.get("tests") == "17" and root.get("errors") == "1"
    by_id = {(c.get("classname"), c.get("name")): c for c in cases}
    assert by_id[("scripted.fixed.seed2", "run")].find("error").get("message") == "RuntimeError: boom"
    # a failing seed of a pass-rate line is judged over seeds: skipped here, verdict on the variant case
    assert "pass rate >= 0.5" in by_id[("scripted.fixed.seed1", "final.f1 >= 0.8")].find("skipped").get("message")
    rate_case = by_id[("scripted.fixed", "final.f1 >= 0.8 [pass rate >= 0.5]")]
    assert rate_case.find("failure").get("message") == "1/3 seeds passed, needs >= 0.5"
    assert by_id[("scripted.fixed.seed0", "outcome.x == ok")].find("skipped") is not None
    # each variant's outcome in harness run's words, as suite properties (broken: cure lines only)
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["outcome.broken"] == "PASS cured" and props["outcome.fixed"] == "FAIL not cured"


def test_junit_passes_the_variant_case_when_the_pass_rate_is_met(tmp_path: Path) -> None:
    report = scripted_report()
    report["runs"][4]["status"] = "ok"  # seed 2 finishes and passes: 2 of 3 seeds >= 0.5
    report["runs"][4]["expectations"][0]["passed"] = True
    report["runs"][4]["expectations"][1]["passed"] = True
    from harness.judging.verdicts import summarize_variants

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
    # one chart per quantity (the loss, the key metrics F1 and max pred share, LR per step) with
    # every variant overlaid, then one per variant and quantity
    assert tags.count("svg") == (1 + 2) * 4
    assert len(re.findall(r"<polyline", text)) >= 2 * (2 * 4 + 2 * 3)  # seeds overlaid
    for title in ("training loss / epoch", "F1 / epoch", "max pred share / epoch", "learning rate / step"):
        assert title in text
    assert "AUC / epoch" not in text and "pred positive share" not in text  # recorded, but not key metrics
    assert "<th title='max_pred_share'>final max pred share" in text
    assert "Ablation: broken → fixed" in text and "interval: epoch -&gt; step" in text
    assert "seeds disagree" in text
    assert "RuntimeError: boom" in text
    assert "final.f1 &gt;= 0.8" in text and "&gt;= 0.5" in text


def test_the_overlay_puts_every_variant_on_one_chart_and_marks_findings_where_they_happened() -> None:
    from harness.reports.html_curves import VARIANT_COLOURS, curves_grid

    report = scripted_report()
    html = curves_grid(report, ["broken", "fixed"])
    overlay = html.split('<div class="rowlabel">broken</div>')[0]
    assert '<div class="rowlabel">all variants</div>' in overlay
    broken, fixed = VARIANT_COLOURS[:2]
    per_epoch_charts = 3  # the loss, F1, max pred share: not the per-step learning rate
    broken_runs = [r for r in report["runs"] if r["variant"] == "broken" and r["history"]]
    assert overlay.count('class="finding"') == per_epoch_charts * len(broken_runs)  # one collapse each, at epoch 1
    assert overlay.count(f'stroke="{broken}" stroke-width="1.1"') >= 4 * len(broken_runs)
    assert f'stroke="{fixed}" stroke-width="1.1"' in overlay
    assert "seed 0, epoch 1: collapse" in overlay
    after = html.split('<div class="rowlabel">broken</div>')[1]
    assert 'class="finding"' not in after  # the per-variant rows keep their seeds apart, unmarked


def test_line_chart_skips_non_finite_points_and_uses_a_log_axis_for_exploding_values() -> None:
    from harness.reports.charts import line_chart, nice_ticks
    from harness.reports.html_curves import _ranges

    svg = line_chart(
        [{"label": "s", "colour": "#000", "points": [(1, 1.0), (2, float("nan")), (3, 2.0), (4, 3.0)]}],
        x_range=(1, 4),
        y_range=(0, 3),
    )
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
    header = next(line for line in text.splitlines() if line.lstrip().startswith("variant"))
    assert re.search(r"F1 +max pred share +loss", header)  # the declared key metrics, whole words
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
    result = CliRunner().invoke(
        main,
        ["report", str(saved), "--html", str(html), "--junit", str(xml), "--json", str(again)],
        env={"COLUMNS": "80"},
    )
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


def _render(report: dict, tmp_path: Path) -> tuple[str, str]:
    """(the 80-column terminal report, the HTML report) of a report."""
    from harness.reports.terminal import print_report

    console = Console(width=80, record=True, color_system=None)
    print_report(console, report)
    path = tmp_path / "r.html"
    write_reports(report, {"html": path})
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    return text, path.read_text()


def _header(text: str) -> str:
    """The summary table's header: its lines between the blank line under the title and the rule."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.lstrip().startswith("───"))
    top = max(i for i in range(rule) if not lines[i].strip())
    return "\n".join(lines[top + 1 : rule])


def test_an_old_report_without_key_metrics_falls_back_to_what_it_recorded(tmp_path: Path) -> None:
    from harness.judging.verdicts import summarize_variants

    old = scripted_report()
    del old["scenario"]["key_metrics"]
    # as an older harness wrote it: the summaries hold the columns it was shown with
    old["variants"] = summarize_variants(old["runs"], ["f1", "pred_positive_share", "loss"])
    text, html = _render(old, tmp_path)
    assert re.search(r"pred positive *\n.*F1 +share +loss", _header(text))  # wrapped between words
    assert "pred positive share / epoch" in html and "max pred share" not in html
    # and without saved summaries: the first two metrics the runs recorded, then the loss
    del old["variants"]
    text, html = _render(old, tmp_path)
    assert re.search(r"F1 +AUC +loss", _header(text))
    assert "AUC / epoch" in html and "max pred share" not in html


def test_a_multiclass_report_shows_the_balance_of_its_predictions(tmp_path: Path) -> None:
    import torch

    from harness.core.metrics import classification_metrics
    from harness.judging.verdicts import summarize_variants
    from harness.workloads.base import Workload

    report = scripted_report()
    labels = torch.arange(60) % 3
    for run in report["runs"]:
        for i, epoch in enumerate(run["history"]):
            logits = torch.randn(60, 3, generator=torch.Generator().manual_seed(i)) + 3 * (
                i + 1
            ) * torch.nn.functional.one_hot(labels, 3)
            metrics = classification_metrics(labels, logits)
            run["history"][i] = {
                "epoch": epoch["epoch"],
                "loss": epoch["loss"],
                "steps": 3 * (i + 1),
                **metrics,
                "lr": 1e-3,
            }
    assert "pred_positive_share" not in report["runs"][0]["history"][0]  # binary only
    for declared, header, title in [
        (list(Workload.declared_key_metrics()), r"F1 +max pred share +loss", "max pred share / epoch"),
        (["macro_f1", "max_pred_share", "loss"], r"macro F1 +max pred share +loss", "macro F1 / epoch"),
    ]:
        report["scenario"]["key_metrics"] = declared
        report["variants"] = summarize_variants(report["runs"], declared)
        assert list(report["variants"]["fixed"]["metrics"]) == declared
        text, html = _render(report, tmp_path)
        assert re.search(header, _header(text)), text
        assert title in html and "max pred share / epoch" in html


MADE_UP = """
from harness import Workload


class MadeUp(Workload):
    metrics = ("my_metric", "f1")
    key_metrics = ("my_metric",)
"""


def test_a_workloads_own_key_metric_becomes_the_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The core names no metric: a made-up workload's declared key metric is what every report shows."""
    from harness.execution.runner import suite_report
    from harness.scenario import load_scenario

    (tmp_path / "made_up_workload.py").write_text(MADE_UP)
    monkeypatch.syspath_prepend(str(tmp_path))
    yaml = tmp_path / "made_up.yaml"
    yaml.write_text(
        "name: made_up\nworkload: {name: 'made_up_workload:MadeUp'}\n"
        "variants:\n  plain:\n    expect: [final.my_metric >= 0.5]\n"
    )
    scenario = load_scenario(yaml)
    assert scenario.key_metrics == ("my_metric",)
    records = scripted_report()["runs"]
    for run in records:
        for epoch in run["history"]:
            epoch["my_metric"] = 2 * epoch["f1"]
    report = suite_report(scenario, records)
    assert report["scenario"]["key_metrics"] == ["my_metric"]
    assert list(report["variants"]["fixed"]["metrics"]) == ["my_metric"]
    text, html = _render(report, tmp_path)
    assert re.search(r"pass +my metric +verdict", _header(text)) and "F1" not in _header(text)
    assert re.search(r"fixed\s+1/3\*\s+1\.450±0\.354", text)
    assert "<th title='my_metric'>final my metric" in html and "my metric / epoch" in html
    assert "F1 / epoch" not in html
    # saved and re-rendered, the report keeps its columns
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(report))
    result = CliRunner().invoke(main, ["report", str(saved)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert re.search(r"pass +my metric +verdict", _header(result.output))


def test_progress_shows_the_key_metric_else_the_first_validation_metric() -> None:
    from harness.reports.progress import RunProgress

    epoch = {"epoch": 1, "loss": 0.5, "steps": 3, "n": 40, "auc": 0.6, "my_metric": 0.7, "lr": 1e-3}
    assert RunProgress(Console(), [], enabled=False, metric="my_metric")._shown_metric(epoch) == "my_metric"
    assert RunProgress(Console(), [], enabled=False)._shown_metric(epoch) == "auc"  # not a count, not the loop's
    assert RunProgress(Console(), [], enabled=False)._shown_metric({"epoch": 1, "loss": 0.5}) == "loss"
