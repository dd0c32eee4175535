"""The one driver every experiment command shares: load scenarios, check the environment and executor, run, write reports, exit with the documented code."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from harness.cli.options import Execution, PluginFlags

if TYPE_CHECKING:
    from rich.console import Console

    from harness.execution.records import RunKey, RunRecord
    from harness.scenario import Scenario
    from harness.scenario.expectations import PassRate

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    """Bad input, exit 2: each line of the message (one per problem) printed as ``Error: LINE``."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: IO[Any] | None = None) -> None:
        for line in self.format_message().splitlines() or [""]:
            click.echo(f"Error: {line}", file=file, err=file is None)


def _load(scenario_path: Path, flags: PluginFlags) -> Scenario:
    from harness.core.contract import ContractError
    from harness.execution.run_one import check_workload
    from harness.scenario import ScenarioError, load_scenario, parse_plugin_options

    try:
        overrides = parse_plugin_options(flags.with_, flags.without, flags.sets)
        scenario = load_scenario(scenario_path, plugin_overrides=overrides)
    except ValueError as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    try:
        check_workload(scenario)
    except ContractError as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    return scenario


def scenario_files(directory: Path) -> tuple[list[Path], list[str]]:
    """The scenario files of ``harness run DIR``: its ``*.yaml``/``*.yml`` files (not those in
    subdirectories), in name order, that are scenarios: a mapping with ``workload`` or
    ``variants`` (or YAML that does not parse, whose error is then reported). Returns them and
    one note per YAML file left out."""
    import yaml

    found, skipped = [], []
    for path in sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            found.append(path)  # load_scenario names the problem
            continue
        if isinstance(data, dict) and ({"workload", "variants"} & set(data)):
            found.append(path)
        else:
            skipped.append(f"{path}: not a scenario (no workload or variants), skipped")
    return found, skipped


def _load_all(paths: list[Path], flags: PluginFlags) -> list[Scenario]:
    """Every scenario of ``paths``, or bad input naming every problem of every file."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(_load(path, flags))
        except BadInput as exc:
            problems.append(exc.format_message())
    if problems:
        raise BadInput("\n".join(problems))
    names: dict[str, Path] = {}
    for scenario in loaded:
        if scenario.name in names:  # their results would share one directory
            raise BadInput(f"{scenario.path}: name: {scenario.name!r} is also the name of {names[scenario.name]}")
        names[scenario.name] = scenario.path
    return loaded


def _scenarios_to_run(
    scenario_path: Path, directory: bool, variants: tuple[str, ...], flags: PluginFlags
) -> list[Scenario]:
    """``harness run``'s scenarios: the file, or every scenario file of the directory (a note per
    YAML file that is none), each having one of ``variants`` when they are given."""
    from harness.core.resolver import closest

    if directory:
        paths, skipped = scenario_files(scenario_path)
        for note in skipped:
            click.echo(f"note: {note}", err=True)
        if not paths:
            raise BadInput(
                f"{scenario_path}: no scenario files (*.yaml or *.yml with workload and variants) in this directory"
            )
    else:
        paths = [scenario_path]
    scenarios = _load_all(paths, flags)
    _check_start_method()
    for name in variants:
        if not any(name in sc.variants for sc in scenarios):
            known = sorted({v for sc in scenarios for v in sc.variants})
            raise BadInput(f"{scenario_path}: unknown variant {name!r}{closest(name, known)}")
    if variants:  # with DIR: only the scenarios that have one of the variants
        scenarios = [sc for sc in scenarios if any(name in sc.variants for name in variants)]
    return scenarios


def _check_variant(scenario: Any, scenario_path: Path, option: str, name: str) -> None:
    """``option`` names a variant of the scenario (else bad input, with the closest name)."""
    from harness.core.resolver import closest

    if name not in scenario.variants:
        raise BadInput(f"{scenario_path}: {option}: unknown variant {name!r}{closest(name, list(scenario.variants))}")


def _pass_rate(text: str | None) -> PassRate | None:
    """``--pass-rate`` as a :class:`~harness.scenario.expectations.PassRate` (None when not given)."""
    from harness.scenario.expectations import ExpectationSyntaxError, parse_pass_rate

    if text is None:
        return None
    try:
        return parse_pass_rate(text)
    except ExpectationSyntaxError as exc:
        raise BadInput(f"--pass-rate: {exc}") from None


EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


@contextlib.contextmanager
def _exit_on_interrupt(console: Console, where: Callable[[], Path]) -> Iterator[None]:
    """Ctrl-C: exit 130 with one line naming where the finished runs are (``where()``). Wraps the
    progress display, so the line comes after the display has ended, not above its last frame."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(
            f"[red]interrupted[/]: finished runs are kept in {where()}/results and the unfinished runs' "
            "partial files removed; rerun with --resume to skip the finished runs",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_INTERRUPTED)


def _check_environment() -> None:
    """Before the first run: installed versions that contradict harness's requirements (a
    transformers that refuses the installed torch) are bad input, one line with the fix."""
    from harness.execution.environment import EnvironmentClash, check_environment

    try:
        check_environment()
    except EnvironmentClash as exc:
        raise BadInput(str(exc)) from None


def _write_reports(payload: dict[str, Any], paths: dict[str, Path | str | None]) -> list[str]:
    """Write the file reports asked for; returns one line per report that could not be
    written (a full disk, no permission: its flag, path and OS error). The others are written."""
    from harness.reports import ReportWriteError, write_reports

    try:
        write_reports(payload, paths)
    except ReportWriteError as exc:
        messages: list[str] = exc.messages  # harness.reports is installed from reports/: mypy cannot see it
        return messages
    return []


def _exit(passed: bool, unwritten: list[str]) -> None:
    """Exit 0 when ``passed`` and every report was written, else 1 (after naming each unwritten report)."""
    for message in unwritten:
        click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_OK if passed and not unwritten else EXIT_FAILED)


def _finish(
    console: Console, report: dict[str, Any], report_targets: dict[str, Path | str | None], **print_options: Any
) -> None:
    """Write the file reports, print the terminal one, exit by ``report["passed"]``."""
    from harness.reports.terminal import print_report

    unwritten = _write_reports(report, report_targets)
    print_report(console, report, **print_options)
    _exit(report["passed"], unwritten)


def _check_start_method() -> None:
    """``$HARNESS_START_METHOD`` names a start method this platform has (else bad input, exit 2)."""
    import multiprocessing as mp

    from harness.execution.executor import START_METHOD_ENV

    method = os.environ.get(START_METHOD_ENV)
    if method and method not in mp.get_all_start_methods():
        raise BadInput(f"${START_METHOD_ENV}={method!r}: choose one of {', '.join(mp.get_all_start_methods())}")


def _check_executor(execution: Execution) -> None:
    """``--address`` only with Ray; ``--executor ray`` needs Ray installed and a valid
    ``$HARNESS_RAY_RETRIES`` (else bad input, exit 2)."""
    if execution.address and execution.executor != "ray":
        raise BadInput("--address needs --executor ray")
    if execution.executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise BadInput("--executor ray needs Ray: pip install 'training-harness[ray]'")
        from harness.execution.ray_executor import retries_from_env

        try:
            retries_from_env()
        except ValueError as exc:
            raise BadInput(str(exc)) from None


def _seed_list(seed: tuple[int, ...], n_seeds: int | None, scenario_seeds: list[int]) -> list[int]:
    if seed and n_seeds:
        raise BadInput("give either --seed S (repeatable) or --seeds N, not both")
    if n_seeds:
        return list(range(n_seeds))
    return list(seed) or list(scenario_seeds)


def _run_keys(
    console: Console,
    scenario: Scenario,
    keys: list[RunKey],
    out_dir: Path,
    execution: Execution,
    metric: str | None,
    **options: Any,
) -> list[RunRecord]:
    """Run ``keys`` as ``execution`` says, with a progress bar per run (none with ``--quiet``);
    ``options``: the rest of :func:`harness.execution.runner.run_suite`'s (``decide``, ``rule``)."""
    from harness.execution.runner import run_suite
    from harness.reports.progress import RunProgress

    with RunProgress(console, keys, enabled=not execution.quiet, metric=metric) as progress:
        return run_suite(
            scenario,
            keys,
            results_dir=out_dir,
            jobs=execution.workers(),
            timeout=execution.timeout,
            device=execution.device,
            resume=execution.resume,
            progress=progress.event,
            executor=execution.executor,
            address=execution.address,
            **options,
        )


def _results_dir(given: Path | None, scenario: Any, directory: bool) -> Path:
    """Where ``harness run`` writes a scenario's runs: ``--results-dir`` (with DIR: a folder per
    scenario in it), else ``.harness/<scenario name>``."""
    from harness.execution.runner import default_results_dir

    if directory:
        return (given / scenario.name) if given else default_results_dir(scenario)
    return given or default_results_dir(scenario)


#: runs some arms: ``runner(scenario_with_the_arms, keys, **run_suite_options) -> records``
Runner = Callable[..., "list[RunRecord]"]


@dataclass
class Outcome:
    """What one experiment ran: the scenario whose variants are its arms and their run records;
    ``judge(suite_report) -> (section name, section, passed)`` adds the experiment's own
    verdict to the report (``run`` has none: the report's own verdict stands)."""

    scenario: Any
    records: list[RunRecord]
    judge: Callable[[dict[str, Any]], tuple[str, dict[str, Any], bool]] | None = None


def run_experiment(
    console: Console, scenario: Scenario, execution: Execution, out_dir: Path, conduct: Callable[[Runner], Outcome]
) -> dict[str, Any]:
    """The one shape of ``run``, ``ablate`` and ``doctor``: ``conduct`` plans its arms and runs
    them through the runner given (progress bars, the executor, results in ``out_dir``), then
    the suite report is assembled and the experiment judges it into its own section; Ctrl-C
    exits 130 naming ``out_dir``. Each command adds only its planning and judging."""
    from harness.execution.runner import suite_report

    metric = next(iter(scenario.key_metrics), None)

    def runner(arms: Scenario, keys: list[RunKey], **options: Any) -> list[RunRecord]:
        return _run_keys(console, arms, keys, out_dir, execution, metric, **options)

    with _exit_on_interrupt(console, lambda: out_dir):
        outcome = conduct(runner)
    report = suite_report(outcome.scenario, outcome.records)
    if outcome.judge is not None:
        name, section, passed = outcome.judge(report)
        report[name] = section
        report["passed"] = passed
    return report
