"""The command line: exit codes, the JSON report's schema, and the end-to-end issue-11 replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]

TINY = """\
name: tiny
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 2, batch_size: 32, lr: 1.0e-3, device: cpu}
variants:
  plain:
    expect:
      - status == ok
      - epochs_run == 2
  impossible:
    plugins: {class_weights: true}
    expect:
      - final.f1 >= 1.5
"""


@pytest.fixture()
def tiny_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_help_lists_commands_and_flags() -> None:
    code, out = invoke("run", "--help")
    assert code == 0
    for flag in ("--variant", "--seed", "--json", "--device", "--results-dir"):
        assert flag in out


def test_passing_variant_exits_0_and_writes_schema(tiny_scenario: Path, tmp_path: Path) -> None:
    report_path = tmp_path / "r.json"
    code, out = invoke(
        "run",
        str(tiny_scenario),
        "--variant",
        "plain",
        "--json",
        str(report_path),
        "-q",
        "--results-dir",
        str(tmp_path / "res"),
    )
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert {"torch_version", "scenario", "runs", "passed", "schema_version"} <= set(report)
    (run,) = report["runs"]
    assert {"variant", "seed", "status", "seconds", "plugins", "history", "findings", "expectations", "trace"} <= set(
        run
    )
    assert run["variant"] == "plain" and run["status"] == "ok"
    from harness.core.pluginmanager import discover_plugins

    monitors = {n for n, info in discover_plugins().items() if info.kind == "monitor" and info.cls.default_enabled()}
    assert "prediction_distribution" in monitors
    assert set(run["plugins"]) == {"defaults"} | monitors  # no fix unless a variant enables it
    for record in run["history"]:
        assert {"epoch", "f1", "precision", "recall", "accuracy", "loss", "pred_positive", "n", "lr"} <= set(record)
    assert [e["passed"] for e in run["expectations"]] == [True, True]
    # each run's result is also written on its own, as soon as it finishes
    assert json.loads((tmp_path / "res" / "results" / "plain-seed0.json").read_text())["status"] == "ok"


def test_failed_expectation_exits_1(tiny_scenario: Path, tmp_path: Path) -> None:
    code, out = invoke(
        "run", str(tiny_scenario), "--json", str(tmp_path / "r.json"), "-q", "--results-dir", str(tmp_path / "res")
    )
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    by_variant = {r["variant"]: r for r in report["runs"]}
    assert by_variant["plain"]["expectations"][0]["passed"] is True  # the other run still finished
    assert by_variant["impossible"]["expectations"][0]["passed"] is False
    assert report["passed"] is False
    assert "FAILED" in out


def test_bad_scenario_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("class_weights: true", "class_weight: true"))
    code, out = invoke("run", str(bad))
    assert code == 2
    assert "bad.yaml:13:15: variants.impossible.plugins.class_weight: unknown plugin" in out
    assert "Traceback" not in out


def test_unknown_variant_exits_2(tiny_scenario: Path) -> None:
    code, out = invoke("run", str(tiny_scenario), "--variant", "plian")
    assert code == 2 and "did you mean 'plain'" in out


def test_no_top_level_plugins_or_reports_modules() -> None:
    """plugins/ and reports/ are importable only as harness.plugins / harness.reports."""
    code = (
        "import sys, harness.plugins.fixes.class_weights, harness.reports.terminal;"
        "assert 'plugins' not in sys.modules and 'reports' not in sys.modules;"
        "import importlib.util as u; assert u.find_spec('plugins') is None and u.find_spec('reports') is None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_help_does_not_import_torch() -> None:
    code = "import sys; from harness.cli import main; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_issue11_replays_end_to_end(tmp_path: Path) -> None:
    """`harness run scenarios/issue11.yaml`: broken collapses, fixed is cured, exit 0."""
    report_path = tmp_path / "issue11.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(ROOT / "scenarios" / "issue11.yaml"),
            "-q",
            "--json",
            str(report_path),
            "--results-dir",
            str(tmp_path / "res"),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = {r["variant"]: r for r in json.loads(report_path.read_text())["runs"]}
    broken, fixed = runs["broken"], runs["fixed"]
    assert any(f["kind"] == "collapse" and f["epoch"] <= 2 for f in broken["findings"])
    assert broken["history"][-1]["pred_positive"] in (0, broken["history"][-1]["n"])
    assert broken["history"][-1]["f1"] <= 0.05
    assert fixed["history"][-1]["f1"] >= 0.80
    assert 0.3 <= fixed["history"][-1]["pred_positive_share"] <= 0.6
    assert max(broken["lr_per_step"]) < 0.25 * 5e-4  # the mechanism: per-epoch stepping starves the LR
    assert "linear_warmup" in fixed["trace"]["on_step"]


def test_ctrl_c_exits_130_with_its_message_after_the_progress_display(
    tiny_scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interrupt line comes after the progress display's last frame, not above it."""
    import harness.execution.runner

    def interrupted(scenario, keys, *, progress, **options):  # type: ignore[no-untyped-def]
        progress(keys[0], "start", None)
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.execution.runner, "run_suite", interrupted)
    monkeypatch.setattr("harness.cli.experiments._check_environment", lambda: None)
    result = CliRunner().invoke(main, ["run", str(tiny_scenario), "--results-dir", str(tmp_path / "res")])
    assert result.exit_code == 130, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert "plain seed 0" in result.output  # the progress display's last frame ...
    assert lines[-1].startswith(f"interrupted: finished runs are kept in {tmp_path / 'res'}/results")  # ... then this
    assert "rerun with --resume" in lines[-1]


SECOND = (
    TINY.replace("name: tiny", "name: tiny_too").split("variants:\n")[0]
    + """variants:
  plain:
    expect:
      - status == ok
"""
)


def test_run_dir_refuses_bad_files_listing_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(TINY.replace("class_weights: true", "class_weight: true"))
    (tmp_path / "b.yml").write_text(SECOND.replace("epochs: 2", "epoch: 2"))
    (tmp_path / "deploy.yaml").write_text("replicas: 3\n")  # not a scenario
    result = CliRunner().invoke(main, ["run", str(tmp_path)])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert [e.split(": ", 2)[1].rsplit("/", 1)[-1] for e in errors] == ["a.yaml:13:15", "b.yml:6:9"]
    assert f"note: {tmp_path / 'deploy.yaml'}: not a scenario (no workload or variants), skipped" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(main, ["run", str(empty)])
    assert nothing.exit_code == 2 and "no scenario files" in nothing.output
    unknown = CliRunner().invoke(main, ["run", str(tmp_path / "nope")])
    assert unknown.exit_code == 2 and "cannot read file" in unknown.output


@pytest.mark.slow
def test_run_dir_runs_every_scenario_with_one_summary_and_exit_code(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "a.yaml").write_text(
        TINY.replace("epochs: 2", "epochs: 1").replace("epochs_run == 2", "epochs_run == 1")
    )
    (scenarios / "b.yaml").write_text(SECOND.replace("epochs: 2", "epochs: 1"))
    (scenarios / "notes.yaml").write_text("- not\n- a scenario\n")
    report = tmp_path / "all.json"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(scenarios),
            "-q",
            "-j",
            "1",
            "--variant",
            "plain",
            "--json",
            str(report),
            "--results-dir",
            str(tmp_path / "res"),
        ],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert [r["scenario"]["name"] for r in payload["reports"]] == ["tiny", "tiny_too"] and payload["passed"] is True
    assert [[run["variant"] for run in r["runs"]] for r in payload["reports"]] == [["plain"], ["plain"]]
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["tiny", "tiny_too"]  # one results dir each
    lines = result.output.splitlines()
    assert lines[-1].startswith("PASSED: 2 of 2 scenario(s) passed, 2 run(s)")
    assert any(line.startswith("  PASS tiny  1 run(s)") for line in lines)
    assert any(line.startswith("  PASS tiny_too  1 run(s)") for line in lines)
    # every variant: `impossible` fails, so the directory fails, with one exit code
    failed = CliRunner().invoke(main, ["run", str(scenarios), "-q", "-j", "1", "--results-dir", str(tmp_path / "res")])
    assert failed.exit_code == 1, failed.output
    assert failed.output.splitlines()[-1].startswith("FAILED: 1 of 2 scenario(s) passed, 3 run(s)")
