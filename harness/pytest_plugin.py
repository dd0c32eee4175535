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
(:func:`harness.verdicts.summarize_variant`): each expectation must hold on the share of
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
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.scenario import Scenario
    from harness.testing import TinyRun

DEFAULT_GLOBS = ["scenarios/*.yaml"]
RECORDS = pytest.StashKey[list]()


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

    def __init__(self, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        super().__init__(f"variant {records[0]['variant']} failed over {len(records)} seed(s)")
        self.records = records
        self.summary = summary


class ScenarioItem(pytest.Item):
    """One variant of a scenario: runs it with each seed, then judges the runs together as
    ``harness run`` does (:func:`harness.verdicts.summarize_variant`: every expectation at its
    ``pass_rate``, every seed when it has none)."""

    def __init__(self, *, scenario: Scenario, variant: str, seeds: list[int], line: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.variant = variant
        self.seeds = list(seeds)
        self.line = line
        self.records: list[dict[str, Any]] = []
        self.record: dict[str, Any] | None = None  # the last run's record
        self.add_marker("scenario")
        self.add_marker("slow")
        self.user_properties += [("scenario", scenario.name), ("variant", variant), ("seeds", self.seeds)]

    def runtest(self) -> None:
        from harness.records import RunKey
        from harness.results import save_result
        from harness.run_one import execute_run
        from harness.verdicts import summarize_variant

        work_dir = self._work_dir()
        for seed in self.seeds:
            key = RunKey(self.variant, seed)
            record = save_result(work_dir, key, execute_run(self.scenario, key, work_dir=work_dir))
            self.records.append(record)
            self.record = record
            self.config.stash[RECORDS].append((self.scenario, record))
        summary = summarize_variant(self.records, list(self.scenario.key_metrics))
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
    from harness.records import SCHEMA_VERSION
    from harness.reports import json_report
    from harness.runner import suite_report

    by_path: dict[Path, tuple[Any, list[dict[str, Any]]]] = {}
    for scenario, record in records:
        by_path.setdefault(scenario.path, (scenario, []))[1].append(record)
    reports = [suite_report(scenario, runs) for scenario, runs in by_path.values()]
    json_report.write(
        path, {"schema_version": SCHEMA_VERSION, "reports": reports, "passed": all(r["passed"] for r in reports)}
    )


# ------------------------------------------------------------------ failure text


def _num(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _expected_text(exp: Any) -> str:
    p = exp.parts
    if exp.kind == "metric":
        return f"between {_num(p['lo'])} and {_num(p['hi'])}" if "lo" in p else f"{p['op']} {_num(p['num'])}"
    if exp.kind == "run_value":
        return f"{p['op']} {_num(p['num'])}"
    if exp.kind == "status":
        return ("not " if p["negate"] else "") + " or ".join(p["allowed"])
    if exp.kind == "outcome":
        return f"{p['op']} {p['word']}"
    return exp.text


def _history_table(history: list[dict[str, Any]], metric: str, mark_epoch: int | None, label: str) -> list[str]:
    """Two aligned rows, epochs and values, ten epochs per block; the judged epoch marked."""
    rows = [(rec.get("epoch"), rec.get(metric)) for rec in history]
    if not rows:
        return ["    (no epoch finished)"]
    out = []
    width = max(len(metric), 5)
    for start in range(0, len(rows), 10):
        block = rows[start : start + 10]
        cells = [(str(e), _num(v) if v is not None else "-") for e, v in block]
        col = [max(len(a), len(b)) + 2 for a, b in cells]
        epochs = "".join(a.rjust(w) for (a, _), w in zip(cells, col))
        values = "".join(b.rjust(w) for (_, b), w in zip(cells, col))
        marker = "".join(("^" if e == mark_epoch else " ").rjust(w) for (e, _), w in zip(block, col))
        out += [f"    {'epoch'.ljust(width)}{epochs}", f"    {metric.ljust(width)}{values}"]
        if mark_epoch is not None and any(e == mark_epoch for e, _ in block):
            out.append(f"    {''.ljust(width)}{marker.rstrip()}  {label}")
    return out


def _judged_epoch(exp: Any, history: list[dict[str, Any]]) -> tuple[int | None, str]:
    p = exp.parts
    values = [
        (rec.get("epoch"), rec.get(p["metric"]))
        for rec in history
        if isinstance(rec.get(p["metric"]), (int, float)) and not math.isnan(rec.get(p["metric"]))
    ]
    if not values:
        return None, ""
    if p["sel"] == "epoch":
        return p["epoch"], f"epoch {p['epoch']}"
    if p["sel"] == "final":
        return values[-1][0], "final"
    if p["sel"] == "first":
        return values[0][0], "first"
    pick = min if p["sel"] == "min" else max
    return pick(values, key=lambda ev: ev[1])[0], p["sel"]


def _display_path(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def format_run_failure(scenario: Scenario, record: dict[str, Any]) -> str:
    """A failed run as a readable assertion message (what ``pytest scenarios/`` prints).

    The first line (pytest's short summary shows it) names the failed expectations with
    what was observed; then the scenario, variant and seed, the run, and for each failed
    expectation observed vs expected and the per-epoch history of the metric involved.
    """
    variant = scenario.variants[record["variant"]]
    lines = [
        _failure_headline(record),
        f"scenario {scenario.name!r} ({_display_path(scenario.path)}), variant {record['variant']!r}, seed {record['seed']}",
        *_run_summary(record, scenario.plugin_modules),
    ]
    error = record.get("error")
    if error:  # a plugin's traceback holds only its own frames; of any other, the last ones
        frames = error.get("traceback", "").rstrip().splitlines()
        lines += ["", *("  " + line for line in (frames if error.get("plugin") else frames[-8:]))]
    by_text = {exp.text: exp for exp in variant.expectations}
    shown_kinds: set[str] = set()
    for entry in record["expectations"]:
        lines += _expectation_lines(entry, by_text.get(entry["name"]), record, shown_kinds)
    others = [f for f in record.get("findings", []) if f["kind"] not in shown_kinds]
    if others:
        lines += ["", "other findings:"]
        lines += [f"  epoch {f['epoch']}: {f['kind']} ({f['plugin']}): {f['message']}" for f in others]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip()


def _failure_headline(record: dict[str, Any]) -> str:
    """The first line: the status of a run that ended early, else the failed expectations."""
    if record["status"] in ("error", "timeout"):
        first = f"the run ended with status {record['status']!r}"
        if record.get("error"):
            first += f": {record['error']['message']}"
        return first
    failed = [e for e in record["expectations"] if e["passed"] is False]
    return f"{len(failed)} of {len(record['expectations'])} expectations failed: " + "; ".join(
        f"{e['name']} (observed {_num(e['observed'])})" for e in failed
    )


def _run_summary(record: dict[str, Any], plugin_modules: tuple[str, ...]) -> list[str]:
    """The run (status, epochs, steps, seconds, why it stopped) and the fixes and monitors it had on."""
    from harness.pluginmanager import plugin_kinds

    history = record.get("history", [])
    run = f"run: status {record['status']}, {len(history)} epoch(s), {record.get('steps', 0)} steps, {record.get('seconds', 0):.1f} s"
    if record.get("stop_reason"):
        run += f"; stopped: {record['stop_reason']}"
    if record.get("diverged_at_step"):
        run += f"; diverged at step {record['diverged_at_step']}"
    kinds = plugin_kinds(plugin_modules)
    enabled = [name for name in record.get("plugins", {}) if kinds.get(name) != "core"]
    fixes = [name for name in enabled if kinds.get(name) != "monitor"]
    monitors = [name for name in enabled if kinds.get(name) == "monitor"]
    return [run, f"fixes on: {', '.join(fixes) or '(none)'}; monitors on: {', '.join(monitors) or '(none)'}"]


def _expectation_lines(entry: dict[str, Any], exp: Any, record: dict[str, Any], shown_kinds: set[str]) -> list[str]:
    """One line for an expectation that held (or did not apply); for a failed one observed vs
    expected and the evidence: the metric's history, the findings of its kind, the steps, the outcomes."""
    if entry["passed"] is not False:
        mark = "passed " if entry["passed"] else "n/a    "
        seen = f"n/a: {entry['reason']}" if entry.get("reason") else f"observed {_num(entry['observed'])}"
        return [f"  {mark} {entry['name']}  ({seen})"]
    history = record.get("history", [])
    expected = _expected_text(exp) if exp is not None else entry["name"]
    lines = ["", f"  FAILED  {entry['name']}", f"          observed {_num(entry['observed'])}, expected {expected}"]
    if exp is None:
        pass
    elif exp.kind == "metric":
        epoch, label = _judged_epoch(exp, history)
        lines.append(f"          {exp.metric} per epoch:")
        lines += ["      " + row for row in _history_table(history, exp.metric, epoch, label)]
    elif exp.kind == "finding":
        kind = exp.parts["kind"]
        shown_kinds.add(kind)
        hits = [f for f in record.get("findings", []) if f["kind"] == kind]
        lines.append(f"          {kind} findings:" + ("" if hits else " none"))
        lines += [f"            epoch {f['epoch']} ({f['plugin']}): {f['message']}" for f in hits]
    elif exp.kind == "run_value":
        lines.append("          steps per epoch:")
        lines += ["      " + row for row in _history_table(history, "steps", None, "")]
    elif exp.kind == "outcome":
        lines.append(f"          outcomes: {record.get('outcomes', {})}")
    return [*lines, ""]


def _run_outcome(record: dict[str, Any]) -> str:
    """What one seed's run came to, on one line."""
    if record["status"] in ("error", "timeout"):
        message = (record.get("error") or {}).get("message")
        return f"status {record['status']}" + (f": {message}" if message else "")
    failed = [e for e in record["expectations"] if e["passed"] is False]
    if not failed:
        return f"status {record['status']}, every expectation holds"
    return f"status {record['status']}, failed: " + "; ".join(f"{e['name']} (observed {_num(e['observed'])})" for e in failed)


def seed_lines(records: list[dict[str, Any]]) -> list[str]:
    """One line per seed: ``seed 1  status ok, failed: final.f1 >= 0.8 (observed 0.6)``."""
    return [f"seed {r['seed']}  {_run_outcome(r)}" for r in records]


def format_variant_failure(scenario: Scenario, records: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """A variant that failed, judged over its seeds as ``harness run`` judges it.

    One seed: :func:`format_run_failure` of its run. Several: the first line names each
    expectation that missed its pass rate (``final.f1 >= 0.8 passed on 1/3 seeds, needs >= 0.5``),
    then the scenario and variant, each expectation's pass count, one line per seed, and the
    full :func:`format_run_failure` of every seed that did not pass.
    """
    from harness.verdicts import run_ok

    if len(records) == 1:
        return format_run_failure(scenario, records[0])
    variant = records[0]["variant"]
    rows = summary["expectations"]
    missed = [row for row in rows if not row["ok"]]

    def need(row: dict[str, Any]) -> str:
        return row["pass_rate"] or "every seed"

    if missed:
        first = f"{len(missed)} of {len(rows)} expectations missed their pass rate over {len(records)} seeds: " + "; ".join(
            f"{row['name']} passed on {row['passed']}/{row['applicable']} seeds, needs {need(row)}" for row in missed
        )
    else:  # no expectations: a run that errored fails the variant
        failed = [r for r in records if r["status"] in ("error", "timeout")]
        first = f"{len(failed)} of {len(records)} runs ended with an error: seeds {', '.join(str(r['seed']) for r in failed)}"
    seeds = ", ".join(str(r["seed"]) for r in records)
    lines = [
        first,
        (
            f"scenario {scenario.name!r} ({_display_path(scenario.path)}), variant {variant!r}, seeds {seeds}: "
            f"{summary['passed_runs']} of {len(records)} passed every expectation"
        ),
        "",
    ]
    for row in rows:
        mark = "n/a    " if not row["applicable"] else ("passed " if row["ok"] else "FAILED ")
        count = f"{row['passed']}/{row['applicable']}" if row["applicable"] else "-"
        lines.append(f"  {mark} {count:>5}  {row['name']}  (needs {need(row)})")
    lines += ["", *("  " + line for line in seed_lines(records))]
    for record in records:
        if not run_ok(record):
            lines += ["", f"---- seed {record['seed']} ----", format_run_failure(scenario, record)]
    return "\n".join(lines).rstrip()


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
