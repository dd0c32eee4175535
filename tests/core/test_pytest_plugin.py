"""The pytest plugin: scenario files collected as tests, readable failures, pass-through options.

Every inner pytest runs in a subprocess: an in-process run restores ``sys.modules``
afterwards, which breaks torch's and transformers' lazily imported modules.
"""

from __future__ import annotations

import json
import textwrap

import pytest

pytest_plugins = ("pytester",)

TINY = """\
name: tiny
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32, eval_batch_size: 64}
train: {epochs: 2, batch_size: 32, lr: 1.0e-3, device: cpu, threads: 1}
seeds: [0]
variants:
  plain:
    expect:
      - status == ok
      - epochs_run == 2
  fixed:
    plugins: {class_weights: true, grad_clip: {max_norm: 1.0}}
    expect:
      - status == ok
"""

IMPOSSIBLE = TINY.replace(
    """  fixed:
    plugins: {class_weights: true, grad_clip: {max_norm: 1.0}}
    expect:
      - status == ok
""",
    """  fixed:
    plugins: {class_weights: true, grad_clip: {max_norm: 1.0}}
    expect:
      - status == ok
      - final.f1 >= 0.999
""",
)


@pytest.fixture()
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project like harness's own: tests/ as testpaths, scenarios/ beside it, other YAML around."""
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        """
    )
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "tiny.yaml").write_text(TINY)
    (pytester.path / "config").mkdir()
    (pytester.path / "config" / "deploy.yaml").write_text("replicas: 3\n")  # not a scenario
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_unit.py").write_text("def test_unit():\n    assert True\n")
    return pytester


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and not line.startswith(("FAILED", "ERROR"))]


def test_each_variant_is_an_item_and_other_yaml_is_ignored(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("scenarios/", "config/", "--collect-only", "-q")
    assert collected(result) == ["scenarios/tiny.yaml::plain", "scenarios/tiny.yaml::fixed"]


def test_default_run_of_testpaths_does_not_collect_scenarios(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--collect-only", "-q")
    assert collected(result) == ["tests/test_unit.py::test_unit"]


def test_seeds_option_keeps_one_item_per_variant(project: pytest.Pytester) -> None:
    """An item is a variant: --harness-seeds changes the seeds it runs, not the items."""
    result = project.runpytest_subprocess("scenarios/", "--collect-only", "-q", "--harness-seeds", "3,4")
    assert collected(result) == ["scenarios/tiny.yaml::plain", "scenarios/tiny.yaml::fixed"]
    bad = project.runpytest_subprocess("scenarios/", "--collect-only", "-q", "--harness-seeds", "three")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "--harness-seeds: expected comma-separated integers, got 'three'" in bad.stderr.str()


def test_glob_is_an_ini_option(project: pytest.Pytester) -> None:
    project.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        testpaths = ["tests"]
        harness_scenarios = ["replays/*.yml"]
        """
    )
    (project.path / "replays").mkdir()
    (project.path / "replays" / "again.yml").write_text(TINY)
    result = project.runpytest_subprocess("scenarios/", "replays/", "--collect-only", "-q")
    assert collected(result) == ["replays/again.yml::plain", "replays/again.yml::fixed"]


def test_keyword_and_marker_selection(project: pytest.Pytester) -> None:
    by_keyword = project.runpytest_subprocess("scenarios/", "--collect-only", "-q", "-k", "fixed")
    assert collected(by_keyword) == ["scenarios/tiny.yaml::fixed"]
    by_marker = project.runpytest_subprocess("scenarios/", "tests/", "--collect-only", "-q", "-m", "scenario")
    assert collected(by_marker) == ["scenarios/tiny.yaml::plain", "scenarios/tiny.yaml::fixed"]
    not_marker = project.runpytest_subprocess("scenarios/", "tests/", "--collect-only", "-q", "-m", "not scenario")
    assert collected(not_marker) == ["tests/test_unit.py::test_unit"]


def test_bad_scenario_is_a_collection_error_naming_file_line_and_field(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "bad.yaml").write_text(TINY.replace("lr: 1.0e-3", "lr: 1.0e-3, learning_rate: 3"))
    result = project.runpytest_subprocess("scenarios/", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*ERROR collecting scenarios/bad.yaml*", "*bad.yaml:6:*: train.learning_rate: unknown field 'learning_rate'*"]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.slow
def test_runs_pass_and_an_impossible_f1_fails_readably(project: pytest.Pytester) -> None:
    (project.path / "scenarios" / "tiny.yaml").write_text(IMPOSSIBLE)
    result = project.runpytest_subprocess("scenarios/")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*1 of 2 expectations failed: final.f1 >= 0.999 (observed *)",
            "scenario 'tiny' (*tiny.yaml), variant 'fixed', seed 0",
            "run: status ok, 2 epoch(s), 6 steps*",
            "fixes on: class_weights, grad_clip; monitors on: *prediction_distribution*",
            "*passed  status == ok  (observed ok)",
            "*FAILED  final.f1 >= 0.999",
            "*observed *, expected >= 0.999",
            "*f1 per epoch:",
            "*epoch*1*2",
            "*f1*",
            "*^  final",
            "FAILED scenarios/tiny.yaml::fixed - 1 of 2 expectations failed*",
        ]
    )
    assert "Traceback" not in out and "runner.py" not in out and "def runtest" not in out


@pytest.mark.slow
def test_exitfirst_last_failed_and_json_report(project: pytest.Pytester) -> None:
    scenario = IMPOSSIBLE.replace("      - epochs_run == 2\n", "      - epochs_run == 2\n      - final.f1 >= 0.999\n")
    (project.path / "scenarios" / "tiny.yaml").write_text(scenario)

    first = project.runpytest_subprocess("scenarios/", "-x")
    first.assert_outcomes(failed=1)  # -x: stopped after "plain" failed, "fixed" never ran

    (project.path / "scenarios" / "tiny.yaml").write_text(IMPOSSIBLE.replace("      - final.f1 >= 0.999\n", ""))
    report = project.path / "out" / "report.json"
    again = project.runpytest_subprocess("scenarios/", "--lf", "--harness-json", str(report))
    again.assert_outcomes(passed=1)  # only the run that failed last time ran
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])

    data = json.loads(report.read_text())
    assert data["passed"] is True
    [suite] = data["reports"]
    assert suite["scenario"]["name"] == "tiny"
    assert [(r["variant"], r["seed"], r["status"]) for r in suite["runs"]] == [("plain", 0, "ok")]
    assert len(suite["runs"][0]["history"]) == 2


@pytest.mark.slow
def test_harness_without_switches_a_plugin_off(project: pytest.Pytester) -> None:
    project.makeconftest(
        textwrap.dedent(
            """
            import pytest

            @pytest.hookimpl(wrapper=True)
            def pytest_runtest_makereport(item, call):
                report = yield
                if call.when == "call" and getattr(item, "record", None):
                    report.user_properties.append(("plugins", sorted(item.record["plugins"])))
                return report

            def pytest_terminal_summary(terminalreporter):
                for report in terminalreporter.getreports("passed"):
                    for key, value in report.user_properties:
                        if key == "plugins":
                            terminalreporter.write_line(f"PLUGINS {report.nodeid} {value}")
            """
        )
    )
    result = project.runpytest_subprocess("scenarios/", "-k", "fixed", "--harness-without", "class_weights")
    result.assert_outcomes(passed=1, deselected=1)
    line = next(out for out in result.outlines if out.startswith("PLUGINS"))
    assert "'grad_clip'" in line and "'class_weights'" not in line


def test_shipped_scenarios_collect_every_variant() -> None:
    """`pytest scenarios/` in this repository: every shipped scenario validates and each variant is one item."""
    import subprocess
    import sys
    from pathlib import Path

    from harness.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    expected = []
    for path in sorted((root / "scenarios").rglob("*.yaml")):  # subdirectories (scenarios/bugs/) too
        scenario = load_scenario(path)
        rel = path.relative_to(root).as_posix()
        expected += [f"{rel}::{variant}" for variant in scenario.variants]  # seeds run inside
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "scenarios/", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(line for line in result.stdout.splitlines() if "::" in line) == sorted(expected)
    assert len(expected) >= 2


def test_loading_the_plugin_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, harness.pytest_plugin; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_tiny_run_fixture_trains_with_an_uninstalled_plugin(tiny_run) -> None:
    from pydantic import BaseModel, ConfigDict

    from harness.core.plugin import Plugin, hookimpl

    class Threshold(BaseModel):
        model_config = ConfigDict(extra="forbid")
        threshold: float = 0.0

    class LossAbove(Plugin):
        """Pathology: test double. Signal: epoch loss above threshold. Fix: none."""

        name, kind, Params, finding_kinds = "loss_above", "monitor", Threshold, ("loss_above",)

        @hookimpl
        def on_epoch_end(self, state, metrics) -> None:
            if metrics["loss"] > self.params.threshold:
                state.add_finding("loss_above", self.name, f"loss {metrics['loss']:.3f}")

    run = tiny_run({"loss_above": {"threshold": 0.0}}, extra=(LossAbove,), epochs=2)
    assert run.status == "ok" and run.finding_epochs("loss_above") == [1, 2]
    assert run.acted("loss_above", "on_epoch_end") and not run.acted("loss_above", "on_step")
    assert len(run.metric("f1")) == 2 and len(run.lr_per_step) == 6
    assert run.state.run_dir is not None and run.state.run_dir.name == "tiny-run-0"
    quiet = tiny_run({"loss_above": False}, extra=(LossAbove,), epochs=1)
    assert quiet.finding_epochs("loss_above") == [] and quiet.state.run_dir.name == "tiny-run-1"


SEED_PARITY = '''
from pydantic import BaseModel, ConfigDict

from harness.core.plugin import Plugin, hookimpl


class SeedParity(Plugin):
    """Pathology: none (test double). Signal: the run's seed. Fix: none; records outcome seed_parity."""

    name, kind = "seed_parity", "monitor"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    @hookimpl
    def on_train_end(self, state) -> None:
        state.outcomes["seed_parity"] = "even" if state.seed % 2 == 0 else "odd"
'''

PASS_RATE = (
    TINY.replace("train: {epochs: 2,", "train: {epochs: 1,")
    .replace("seeds: [0]", "seeds: [0, 1]")
    .replace("variants:\n", "plugin_modules: ['seed_parity:SeedParity']\nvariants:\n")
    .split("variants:\n")[0]
    + """variants:
  half:
    expect:
      - {expect: "outcome.seed_parity == even", pass_rate: ">= 0.5"}
      - status == ok
  every:
    expect:
      - outcome.seed_parity == even
"""
)


@pytest.mark.slow
def test_pass_rate_gives_the_same_verdict_under_pytest_and_harness_run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 0 records `even`, seed 1 `odd`. `half` needs the line on half the seeds: it passes under
    both; `every` needs it on every seed: it fails under both, and pytest shows each seed."""
    import subprocess
    import sys

    (project.path / "seed_parity.py").write_text(SEED_PARITY)
    (project.path / "scenarios" / "tiny.yaml").write_text(PASS_RATE)
    monkeypatch.setenv("PYTHONPATH", str(project.path))

    result = project.runpytest_subprocess("scenarios/", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 of 1 expectations missed their pass rate over 2 seeds: outcome.seed_parity == even passed on 1/2 seeds, "
            "needs every seed",
            "scenario 'tiny' (*tiny.yaml), variant 'every', seeds 0, 1: 1 of 2 passed every expectation",
            "*FAILED    1/2  outcome.seed_parity == even  (needs every seed)",
            "*seed 0  status ok, every expectation holds",
            "*seed 1  status ok, failed: outcome.seed_parity == even (observed odd)",
            "---- seed 1 ----",
            "*scenario 'tiny' (*tiny.yaml), variant 'every', seed 1",
            "fixes on: (none); monitors on: *seed_parity*",
            "PASSED scenarios/tiny.yaml::half",
            "FAILED scenarios/tiny.yaml::every - 1 of 1 expectations missed*",
        ]
    )

    verdicts = {}
    for variant in ("half", "every"):
        report = project.path / f"{variant}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness.cli",
                "run",
                "scenarios/tiny.yaml",
                "-q",
                "--variant",
                variant,
                "-j",
                "1",
                "--json",
                str(report),
                "--results-dir",
                str(project.path / "res"),
            ],
            cwd=project.path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        verdicts[variant] = proc.returncode
        assert json.loads(report.read_text())["variants"][variant]["passed"] is (proc.returncode == 0), proc.stdout
    assert verdicts == {"half": 0, "every": 1}
