"""pytest plugin: scenario files are test files, each variant of a scenario is a test item.

Registered through the ``pytest11`` entry point, so it is active wherever harness is
installed; it imports nothing heavy until a scenario is collected or run.

    pytest scenarios/                         # every variant of every scenario
    pytest scenarios/ -k fixed                # only the "fixed" variants
    pytest scenarios/ -m "not scenario"       # nothing from scenarios
    pytest scenarios/ --harness-seeds 0,1,2   # each variant runs seeds 0, 1, 2 in its one item
    pytest scenarios/ --harness-json out.json # the JSON report of every run

An item is one variant: it runs the variant with each seed (the scenario's ``seeds``, or
``--harness-seeds``) and judges the runs together exactly as ``harness run`` does
(:func:`harness.judging.verdicts.summarize_variant`): each expectation must hold on the share of
seeds its ``pass_rate`` asks for, on every seed when it has none. So a scenario passes
under pytest exactly when it passes under ``harness run``.

Only YAML files matching the ``harness_scenarios`` ini option (globs relative to the
rootdir, default ``scenarios/*.yaml``) or named on the command line are collected, so
other YAML files are ignored. A file that fails validation is a collection error with
the scenario loader's ``file:line:col: field: message`` lines (every problem at once). A
variant whose expectations fail is reported as an assertion would be: scenario, variant,
seeds, each expectation's pass count over the seeds, one line per seed, and for each failed
seed its failed expectations with observed vs expected and the per-epoch history of the
metric involved, with no traceback of harness internals.

It also provides the fixtures plugin authors test with (see :mod:`harness.testing`):
``tiny_run`` trains the tiny workload with the plugins you name.
"""

from __future__ import annotations

import fnmatch
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.integrations.pytest_failures import format_variant_failure, seed_lines

if TYPE_CHECKING:
    from harness.execution.records import RunRecord
    from harness.scenario import Scenario
    from harness.testing import TinyRun

DEFAULT_GLOBS = ["scenarios/*.yaml"]
#: every run of the session, with its scenario: the --harness-json report
RECORDS: pytest.StashKey[list[tuple[Scenario, RunRecord]]] = pytest.StashKey()


# ------------------------------------------------------------------ options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness scenario replays")
    group.addoption(
        "--harness-seeds",
        action="store",
        default=None,
        metavar="S[,S...]",
        help="run every collected scenario with these seeds instead of the scenario's own",
    )
    group.addoption(
        "--harness-json",
        action="store",
        default=None,
        metavar="PATH",
        help="write the JSON report of every scenario run to PATH",
    )
    group.addoption(
        "--harness-without",
        action="append",
        default=[],
        metavar="PLUGIN",
        help="switch PLUGIN off in every variant (repeatable), like `harness run --without`",
    )
    parser.addini(
        "harness_scenarios",
        type="args",
        default=DEFAULT_GLOBS,
        help="globs (relative to the rootdir) of the YAML files collected as harness scenarios",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "scenario: a harness scenario variant (its seeds run and judged together)")
    if not any(str(line).startswith("slow") for line in config.getini("markers")):
        config.addinivalue_line("markers", "slow: end-to-end scenario replays (seconds to a minute each)")
    config.stash[RECORDS] = []
    parse_seeds(config.getoption("harness_seeds", None))  # a malformed --harness-seeds is a usage error up front


def parse_seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise pytest.UsageError(f"--harness-seeds: expected comma-separated integers, got {text!r}") from None


# ------------------------------------------------------------------ collection


def is_scenario_file(config: pytest.Config, file_path: Path) -> bool:
    """True when ``file_path`` matches one of the ``harness_scenarios`` globs."""
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    try:
        relative = file_path.relative_to(config.rootpath).as_posix()
    except ValueError:
        relative = None
    for pattern in config.getini("harness_scenarios"):
        if Path(pattern).is_absolute():
            if fnmatch.fnmatch(file_path.as_posix(), pattern):
                return True
        elif "/" not in pattern:
            if fnmatch.fnmatch(file_path.name, pattern):
                return True
        elif relative is not None and fnmatch.fnmatch(relative, pattern):
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if is_scenario_file(parent.config, file_path) or parent.session.isinitpath(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario YAML file; validated completely at collection, before any training."""

    def collect(self) -> Any:
        from harness.scenario import ScenarioError, load_scenario, locate, read_yaml

        without = self.config.getoption("harness_without") or []
        try:
            scenario = load_scenario(self.path, plugin_overrides={name: False for name in without})
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        _, root = read_yaml(self.path)
        seeds = parse_seeds(self.config.getoption("harness_seeds")) or scenario.seeds
        for variant in scenario.variants:
            line, _ = locate(root, ("variants", variant))
            yield ScenarioItem.from_parent(
                self, name=variant, scenario=scenario, variant=variant, seeds=seeds, line=(line or 1) - 1
            )


class ScenarioFailed(Exception):
    """A variant's runs finished but the variant did not pass; carries its records and summary."""

    def __init__(self, records: list[RunRecord], summary: dict[str, Any]) -> None:
        super().__init__(f"variant {records[0]['variant']} failed over {len(records)} seed(s)")
        self.records = records
        self.summary = summary


class ScenarioItem(pytest.Item):
    """One variant of a scenario: runs it with each seed, then judges the runs together as
    ``harness run`` does (:func:`harness.judging.verdicts.summarize_variant`: every expectation at its
    ``pass_rate``, every seed when it has none)."""

    def __init__(self, *, scenario: Scenario, variant: str, seeds: list[int], line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.variant = variant
        self.seeds = list(seeds)
        self.line = line
        self.records: list[RunRecord] = []
        self.record: RunRecord | None = None  # the last run's record
        self.add_marker("scenario")
        self.add_marker("slow")
        self.user_properties += [("scenario", scenario.name), ("variant", variant), ("seeds", self.seeds)]

    def runtest(self) -> None:
        from harness.execution.records import RunKey
        from harness.execution.results import save_result
        from harness.execution.run_one import execute_run
        from harness.judging.verdicts import summarize_variant
        from harness.reports.outcomes import outcome

        work_dir = self._work_dir()
        for seed in self.seeds:
            key = RunKey(self.variant, seed)
            record = save_result(work_dir, key, execute_run(self.scenario, key, work_dir=work_dir))
            self.records.append(record)
            self.record = record
            self.config.stash[RECORDS].append((self.scenario, record))
        summary = summarize_variant(self.records, list(self.scenario.key_metrics))
        findings = sum(len(r.get("findings") or []) for r in self.records)
        self.user_properties.append(("outcome", outcome(summary, findings)[0]))  # JUnit: harness run's words
        if len(self.records) > 1:
            self.add_report_section("call", "harness seeds", "\n".join(seed_lines(self.records)))
        if not summary["passed"]:
            raise ScenarioFailed(self.records, summary)

    def _work_dir(self) -> Path:
        factory = getattr(self.config, "_tmp_path_factory", None)  # pytest's tmp_path_factory
        basename = f"harness-{self.scenario.name}-{self.variant}"
        if factory is not None:
            return Path(factory.mktemp(basename, numbered=True))
        return Path(tempfile.mkdtemp(prefix=basename + "-"))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioFailed):
            return format_variant_failure(self.scenario, excinfo.value.records, excinfo.value.summary)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        seeds = f"seed {self.seeds[0]}" if len(self.seeds) == 1 else f"seeds {', '.join(map(str, self.seeds))}"
        return self.path, self.line, f"scenario {self.scenario.name}: variant {self.variant}, {seeds}"


# ------------------------------------------------------------------ the JSON report


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("harness_json", None)
    records = session.config.stash.get(RECORDS, [])
    if not path or not records:
        return
    from harness.execution.records import SCHEMA_VERSION
    from harness.execution.runner import suite_report
    from harness.reports import json_report

    by_path: dict[Path, tuple[Any, list[RunRecord]]] = {}
    for scenario, record in records:
        by_path.setdefault(scenario.path, (scenario, []))[1].append(record)
    reports = [suite_report(scenario, runs) for scenario, runs in by_path.values()]
    json_report.write(
        path, {"schema_version": SCHEMA_VERSION, "reports": reports, "passed": all(r["passed"] for r in reports)}
    )


# ------------------------------------------------------------------ failure text


# ------------------------------------------------------------------ fixtures for plugin authors


@pytest.fixture
def tiny_run(tmp_path: Path) -> Callable[..., TinyRun]:
    """Train a tiny workload (~1 s; default the tiny devign one) with the plugins you name; returns a TinyRun.

    ``tiny_run({"grad_clip": {"max_norm": 0.1}}, epochs=1)``; pass ``extra=(MyPlugin,)``
    to test a plugin class that is not installed, ``workload=MyWorkload()`` to train any
    :class:`harness.Workload`. See :func:`harness.testing.train_tiny`.
    """
    from harness.testing import train_tiny

    counter = itertools.count()

    def run(plugins: dict[str, Any] | None = None, **kwargs: Any) -> TinyRun:
        kwargs.setdefault("run_dir", tmp_path / f"tiny-run-{next(counter)}")
        return train_tiny(plugins, **kwargs)

    return run


@pytest.fixture
def harness_watch() -> Callable[..., Any]:
    """:func:`harness.watch` for a user's test: ``with harness_watch() as w: train(epochs=1)``
    then ``w.assert_clean()`` (a readable failure naming each finding and its line)."""
    from harness.integrations.watch import watch

    return watch
