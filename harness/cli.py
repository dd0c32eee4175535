"""The ``harness`` command line.

Exit codes: 0 every expectation held, 1 an expectation failed or a run errored,
2 bad input (a malformed scenario, an unknown variant or plugin). Heavy modules
(torch, transformers) are imported only inside the commands that train.

The commands only check their input, call the logic (:mod:`harness.runner`,
:mod:`harness.ablation`, :mod:`harness.doctor`) and print; the options they share are
declared once in :mod:`harness.cli_options`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from harness.cli_options import Execution, PluginFlags, report_options, run_options

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    """Bad input, exit 2: each line of the message (one per problem) printed as ``Error: LINE``."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        for line in self.format_message().splitlines() or [""]:
            click.echo(f"Error: {line}", file=file, err=file is None)


def _load(scenario_path: Path, flags: PluginFlags):  # type: ignore[no-untyped-def]
    from harness.scenario import ScenarioError, load_scenario, parse_plugin_options

    try:
        overrides = parse_plugin_options(flags.with_, flags.without, flags.sets)
        return load_scenario(scenario_path, plugin_overrides=overrides)
    except ValueError as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None


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


def _load_all(paths: list[Path], flags: PluginFlags) -> list:  # type: ignore[type-arg]
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


def _scenarios_to_run(scenario_path: Path, directory: bool, variants: tuple[str, ...], flags: PluginFlags) -> list:  # type: ignore[type-arg]
    """``harness run``'s scenarios: the file, or every scenario file of the directory (a note per
    YAML file that is none), each having one of ``variants`` when they are given."""
    from harness.expectations import closest

    if directory:
        paths, skipped = scenario_files(scenario_path)
        for note in skipped:
            click.echo(f"note: {note}", err=True)
        if not paths:
            raise BadInput(f"{scenario_path}: no scenario files (*.yaml or *.yml with workload and variants) in this directory")
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
    from harness.expectations import closest

    if name not in scenario.variants:
        raise BadInput(f"{scenario_path}: {option}: unknown variant {name!r}{closest(name, list(scenario.variants))}")


def _pass_rate(text: str | None):  # type: ignore[no-untyped-def]
    """``--pass-rate`` as a :class:`~harness.expectations.PassRate` (None when not given)."""
    from harness.expectations import ExpectationSyntaxError, parse_pass_rate

    if text is None:
        return None
    try:
        return parse_pass_rate(text)
    except ExpectationSyntaxError as exc:
        raise BadInput(f"--pass-rate: {exc}") from None


EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


@contextlib.contextmanager
def _exit_on_interrupt(console, where):  # type: ignore[no-untyped-def]
    """Ctrl-C: exit 130 with one line naming where the finished runs are (``where()``). Wraps the
    progress display, so the line comes after the display has ended, not above its last frame."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(
            f"[red]interrupted[/]: finished runs are kept in {where()}/results and the unfinished runs' "
            "partial files removed; rerun with --resume to skip the finished runs", highlight=False, soft_wrap=True,
        )
        sys.exit(EXIT_INTERRUPTED)


def _check_environment() -> None:
    """Before the first run: installed versions that contradict harness's requirements (a
    transformers that refuses the installed torch) are bad input, one line with the fix."""
    from harness.environment import EnvironmentClash, check_environment

    try:
        check_environment()
    except EnvironmentClash as exc:
        raise BadInput(str(exc)) from None


def _write_reports(payload: dict, paths: dict) -> list[str]:
    """Write the file reports asked for; returns one line per report that could not be
    written (a full disk, no permission: its flag, path and OS error). The others are written."""
    from harness.reports import ReportWriteError, write_reports

    try:
        write_reports(payload, paths)
    except ReportWriteError as exc:
        return exc.messages
    return []


def _exit(passed: bool, unwritten: list[str]) -> None:
    """Exit 0 when ``passed`` and every report was written, else 1 (after naming each unwritten report)."""
    for message in unwritten:
        click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_OK if passed and not unwritten else EXIT_FAILED)


def _finish(console, report: dict, report_targets: dict, **print_options: Any) -> None:  # type: ignore[no-untyped-def]
    """Write the file reports, print the terminal one, exit by ``report["passed"]``."""
    from harness.reports.terminal import print_report

    unwritten = _write_reports(report, report_targets)
    print_report(console, report, **print_options)
    _exit(report["passed"], unwritten)


def _check_start_method() -> None:
    """``$HARNESS_START_METHOD`` names a start method this platform has (else bad input, exit 2)."""
    import multiprocessing as mp

    from harness.executor import START_METHOD_ENV

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
            raise BadInput("--executor ray needs Ray: pip install 'harness[ray]'")
        from harness.ray_executor import retries_from_env

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


def _run_keys(console, scenario: Any, keys: list, out_dir: Path, execution: Execution, metric: str | None, **options: Any) -> list:  # type: ignore[no-untyped-def, type-arg]
    """Run ``keys`` as ``execution`` says, with a progress bar per run (none with ``--quiet``);
    ``options``: the rest of :func:`harness.runner.run_suite`'s (``decide``, ``rule``)."""
    from harness.reports.terminal import RunProgress
    from harness.runner import run_suite

    with RunProgress(console, keys, enabled=not execution.quiet, metric=metric) as progress:
        return run_suite(
            scenario, keys, results_dir=out_dir, jobs=execution.workers(), timeout=execution.timeout,
            device=execution.device, resume=execution.resume, progress=progress.event, executor=execution.executor,
            address=execution.address, **options,
        )


def _results_dir(given: Path | None, scenario: Any, directory: bool) -> Path:
    """Where ``harness run`` writes a scenario's runs: ``--results-dir`` (with DIR: a folder per
    scenario in it), else ``.harness/<scenario name>``."""
    from harness.runner import default_results_dir

    if directory:
        return (given / scenario.name) if given else default_results_dir(scenario)
    return given or default_results_dir(scenario)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="harness")
def main() -> None:
    """Replay training incidents as scenarios and prove which fix cures them.

    \b
    harness run scenarios/issue11.yaml                 # broken vs fixed, A/B report
    harness run scenarios/issue11.yaml --variant fixed # one variant
    harness ablate scenarios/issue11.yaml --seeds 3    # which fixes matter
    harness report results.json --html report.html     # re-render without retraining
    harness plugins                                    # every fix and monitor
    harness workloads                                  # every named workload
    """


@main.command()
@click.argument("scenario_path", metavar="SCENARIO|DIR", type=click.Path(path_type=Path))
@click.option(
    "--variant", "-v", "variants", multiple=True, metavar="NAME",
    help="Run only this variant (repeatable; with DIR, in each scenario that has it). Default: all.",
)
@run_options(
    seeds_help="Run every variant with seeds 0..N-1; verdicts use the expectations' pass rates over them.",
    results_help="Where each run's result and checkpoints are written. Default: .harness/<scenario name> "
    "(with DIR: DIR_GIVEN/<scenario name>).",
    jobs_help="Runs in parallel, each in its own worker process. Default: number of CPU cores.",
    timeout_help="Per-run limit in seconds; a run past it ends with status 'timeout'.",
    before_quiet=[click.option(
        "--decide-early", is_flag=True,
        help="Stop a run at the end of the epoch where its variant's verdict is decided, and skip a variant's "
        "remaining seeds once it is (as harness ablate does). Default: every run trains to its end.",
    )],
    quiet_help="No progress bars; print only the table.",
)
def run(
    scenario_path: Path, variants: tuple[str, ...], seeds: tuple[int, ...], n_seeds: int | None,
    report_targets: dict, decide_early: bool, execution: Execution, plugin_flags: PluginFlags,
) -> None:
    """Run SCENARIO's variants and check their expectations; with a directory, every scenario in it.

    DIR: each *.yaml/*.yml file directly in it that is a scenario (a mapping with workload
    or variants; other YAML files are skipped with a note), validated all before any run,
    run one after the other, with one summary and one exit code (0 only when every scenario
    passes); --json then writes {"reports": [...], "passed"} as `pytest --harness-json` does.
    Exit 130 on Ctrl-C: the finished runs are kept (rerun with --resume), the unfinished
    runs' partial files are removed.

    \b
    harness run S --variant fixed --without class_weights   # a variant derived ad hoc
    harness run S --set grad_clip.max_norm=0.5 --with mixed_precision
    harness run S --seeds 5 -j 2 --html r.html --junit r.xml
    harness run scenarios/ -q --json all.json               # every scenario, one summary
    """
    from rich.console import Console
    from rich.markup import escape

    from harness.records import SCHEMA_VERSION
    from harness.runner import plan_runs, suite_report

    console = Console(stderr=False)
    directory = scenario_path.is_dir()
    scenarios = _scenarios_to_run(scenario_path, directory, variants, plugin_flags)
    _check_executor(execution)
    _check_environment()
    reports = []
    for scenario in scenarios:
        keys = plan_runs(scenario, [v for v in variants if v in scenario.variants] or None, _seed_list(seeds, n_seeds, scenario.seeds))
        out_dir = _results_dir(execution.results_dir, scenario, directory)
        if directory and not execution.quiet:
            console.print(f"[bold]{escape(scenario.name)}[/] [dim]{escape(str(scenario.path))}[/]", highlight=False)
        metric = next(iter(scenario.key_metrics), None)
        with _exit_on_interrupt(console, lambda where=out_dir: where):
            records = _run_keys(console, scenario, keys, out_dir, execution, metric, decide=decide_early)
        reports.append(suite_report(scenario, records))
    if directory:  # one payload for every scenario, as `pytest --harness-json` writes
        report = {"schema_version": SCHEMA_VERSION, "reports": reports, "passed": all(r["passed"] for r in reports)}
    else:
        report = reports[0]
    _finish(console, report, report_targets)


def _ablation_arms(scenario_path: Path, scenario: Any, base: str, target: str) -> tuple[Any, list]:  # type: ignore[type-arg]
    """The ablation's scenario and arms (:func:`harness.ablation.ablation_scenario`), or bad input
    when an arm could not run or base and target have the same plugins."""
    from harness.ablation import ablation_scenario
    from harness.pluginmanager import PluginConflictError

    try:
        derived, arms = ablation_scenario(scenario, base, target)
    except PluginConflictError as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    if not any(a.role == "base+fix" for a in arms):
        raise BadInput(f"{scenario_path}: variants {base!r} and {target!r} have the same plugins: nothing to ablate")
    return derived, arms


@main.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base", default="broken", show_default=True, metavar="VARIANT", help="The variant with the incident.")
@click.option("--target", default="fixed", show_default=True, metavar="VARIANT", help="The variant with the cure; its expectations decide 'cured'.")
@run_options(
    before_reports=[click.option(
        "--pass-rate", "pass_rate", metavar="RATE",
        help="Cured = this share of seeds passes every target expectation, e.g. '>= 0.8'. "
        "Default: each target expectation's own pass_rate (every seed when it has none).",
    )],
    results_help="Where each run's result is written. Default: .harness/<scenario name>/ablation.",
    before_quiet=[click.option(
        "--exhaustive", is_flag=True,
        help="Train every run of every arm to its end. Default: decide early: a run stops at the end of the epoch "
        "where its arm's verdict is decided, and an arm's remaining seeds are skipped once it is.",
    )],
)
def ablate(
    scenario_path: Path, base: str, target: str, seeds: tuple[int, ...], n_seeds: int | None, pass_rate: str | None,
    report_targets: dict, exhaustive: bool, execution: Execution, plugin_flags: PluginFlags,
) -> None:
    """Which fixes matter? Ablate every slot whose plugin differs between --base and --target.

    A fix is one plugin set differently, or one slot whose occupant changes (plugins that
    answer the same firstresult hook or replace each other, e.g. make_criterion:
    sample_weighted_loss -> class_weights). Runs the base, the base plus each single fix
    (set as in the target), the target, and the target minus each single fix (set as in
    the base), all with the same seeds, judges every arm by the target's expectations, and
    prints per fix whether it is sufficient alone (base + fix is cured) and necessary
    (target - fix is not); a verdict is n/a when the arm's trace shows the plugin it
    switched on never acted. Runs stop as soon as their arm's verdict is decided and an arm's
    remaining seeds are skipped then (--exhaustive: train everything). Exit 0 when every run
    finished and the target is cured, 1
    otherwise, 2 bad input, 130 interrupted (Ctrl-C). SCENARIO is one file: unlike
    `harness run`, ablate does not take a directory.

    \b
    harness ablate scenarios/issue11.yaml --seeds 3 -j 2 --json ablation.json
    """
    from rich.console import Console

    from harness import ablation as abl
    from harness.records import torch_version
    from harness.runner import default_results_dir, plan_runs, suite_report

    console = Console()
    scenario = _load(scenario_path, plugin_flags)
    _check_start_method()
    for option, name in (("--base", base), ("--target", target)):
        _check_variant(scenario, scenario_path, option, name)
    if base == target:
        raise BadInput("--base and --target name the same variant")
    rule = _pass_rate(pass_rate)
    seed_list = _seed_list(seeds, n_seeds, scenario.seeds)
    _check_executor(execution)
    derived, arms = _ablation_arms(scenario_path, scenario, base, target)
    keys = plan_runs(derived, None, seed_list)
    out_dir = execution.results_dir or default_results_dir(scenario) / "ablation"
    _check_environment()
    metric = next(iter(scenario.key_metrics), None)
    with _exit_on_interrupt(console, lambda: out_dir):
        records = _run_keys(console, derived, keys, out_dir, execution, metric, decide=not exhaustive, rule=rule)
    report = suite_report(derived, records)
    report["ablation"] = abl.ablation_section(
        scenario, base, target, arms, records, report["variants"], rule, early=not exhaustive, torch_version=torch_version()
    )
    report["passed"] = abl.ablation_passed(records, report["ablation"])
    _finish(console, report, report_targets, details=False)


@main.command()
@click.argument("results", metavar="RESULTS.json", type=click.Path(dir_okay=False, path_type=Path))
@report_options
@click.option("--quiet", "-q", is_flag=True, help="Do not print the terminal report.")
def report(results: Path, report_targets: dict, quiet: bool) -> None:
    """Re-render a saved JSON report (of `harness run`/`ablate --json` or `pytest --harness-json`)
    as the terminal table, HTML, JUnit or JSON, without retraining.

    \b
    harness report results.json --html report.html --junit report.xml
    """
    from rich.console import Console

    from harness.compare import ReportError, load_report
    from harness.reports.terminal import print_report

    try:
        payload = load_report(results)
        if not quiet:
            print_report(Console(), payload)
        unwritten = _write_reports(payload, report_targets)
    except ReportError as exc:
        raise BadInput(str(exc)) from None
    except (KeyError, TypeError) as exc:
        raise BadInput(f"{results}: not a complete harness report (missing {exc})") from None
    if unwritten:
        _exit(True, unwritten)


def describe_plugin(info: object) -> dict:
    """What ``harness plugins`` shows of one plugin (also its ``--json`` entry)."""
    from importlib import metadata

    from harness.pluginmanager import plugin_slots

    cls = info.cls  # type: ignore[attr-defined]
    source = info.source  # type: ignore[attr-defined]
    if source == "builtin":
        distribution = "harness (built-in)"
    else:
        try:
            distribution = f"{source} {metadata.version(source)}"
        except metadata.PackageNotFoundError:
            distribution = source
    doc = (cls.__doc__ or "").strip() or (sys.modules[cls.__module__].__doc__ or "").strip()
    return {
        "name": cls.name,
        "kind": cls.kind,
        "enabled_by_default": cls.default_enabled(),
        "source": distribution,
        "module": f"{cls.__module__}:{cls.__qualname__}",
        "summary": doc.splitlines()[0] if doc else "",
        "hooks": sorted(n for n in dir(cls) if hasattr(getattr(cls, n), "harness_impl")),
        "parameters": {
            p: {"default": "(required)" if f.is_required() else f.get_default(call_default_factory=True),
                "description": f.description or ""}
            for p, f in cls.Params.model_fields.items()
        },
        "finding_kinds": list(cls.finding_kinds),
        # the conflict rule (harness.pluginmanager.resolve_conflicts): what it competes for, what it supersedes
        "slots": sorted(plugin_slots(cls)),
        "replaces": list(cls.replaces),
        # harness doctor (a fix: the findings it may cure) and the detector benchmark (a bug: how it shows)
        "addresses": list(cls.addresses),
        "shows_as": list(cls.shows_as),
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON instead of one block per plugin.")
def plugins(as_json: bool) -> None:
    """List every plugin: built-in or external, its source distribution, hooks and parameters.

    Switch one off for a run with `harness run SCENARIO --without NAME`, or in a
    scenario with `plugins: {NAME: false}`.
    """
    import json

    from harness.pluginmanager import PluginLoadError, discover_plugins

    try:
        found = discover_plugins()
    except PluginLoadError as exc:
        raise BadInput(str(exc)) from None
    described = [describe_plugin(info) for _, info in sorted(found.items())]
    if as_json:
        click.echo(json.dumps(described, indent=1, default=str))
        return
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    console = Console(highlight=False)
    for d in described:  # one block per plugin, as `harness workloads`: lines wrap between words, never inside a name
        default = "always on" if d["kind"] == "core" else "on by default" if d["enabled_by_default"] else "off by default"
        console.print(Text.assemble((d["name"], "bold"), "  ", f"{d['kind']}, {default}", "  ", (d["source"], "dim")))
        params = ", ".join(f"{p}={v['default']!r}" for p, v in d["parameters"].items()) or "-"
        lines = [Text(d["summary"], style="italic")] if d["summary"] else []
        lines += [Text.assemble(("hooks: ", "cyan"), ", ".join(d["hooks"]) or "-"), Text.assemble(("parameters: ", "cyan"), params)]
        if d["finding_kinds"]:
            lines.append(Text.assemble(("findings: ", "cyan"), ", ".join(d["finding_kinds"])))
        if d["replaces"]:
            lines.append(Text.assemble(("replaces: ", "cyan"), ", ".join(d["replaces"])))
        if d["addresses"]:
            lines.append(Text.assemble(("addresses: ", "cyan"), ", ".join(d["addresses"])))
        if d["shows_as"]:
            lines.append(Text.assemble(("shows as: ", "cyan"), ", ".join(d["shows_as"])))
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 2), expand=False))
        console.print()


def describe_workload(entry: object) -> dict:
    """What ``harness workloads`` shows of one workload (also its ``--json`` entry)."""
    from harness.resolver import distribution_label, params_defaults
    from harness.workloads import workload_class

    cls = workload_class(entry.name)  # type: ignore[attr-defined]
    doc = (cls.__doc__ or "").strip() or (sys.modules[cls.__module__].__doc__ or "").strip()
    return {
        "name": entry.name,  # type: ignore[attr-defined]
        "source": distribution_label(entry.source),  # type: ignore[attr-defined]
        "module": entry.target,  # type: ignore[attr-defined]
        "summary": doc.splitlines()[0].replace("``", "`") if doc else "",
        "parameters": params_defaults(cls.Params),
        "metrics": list(cls.declared_metrics()),
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON instead of a table.")
def workloads(as_json: bool) -> None:
    """List every named workload: built-in or from an installed package, its parameters and metrics.

    A scenario names one in `workload: {name: NAME, params: {...}}`; a workload of your
    own needs no registration: `workload: {name: my_module:MyWorkload}` with my_module
    importable (e.g. PYTHONPATH=.). Installed packages register theirs in the
    `harness.workloads` entry-point group.
    """
    import json

    from harness.resolver import LoadError
    from harness.workloads import available_workloads

    try:
        entries = sorted(available_workloads().items())
    except LoadError as exc:
        raise BadInput(str(exc)) from None
    described, broken = [], []
    for _, entry in entries:
        try:
            described.append(describe_workload(entry))
        except LoadError as exc:  # one broken package must not hide the others
            broken.append(str(exc))
    if as_json:
        click.echo(json.dumps(described, indent=1, default=str))
        for message in broken:
            click.echo(f"error: {message}", err=True)
        sys.exit(EXIT_BAD_INPUT if broken else EXIT_OK)
    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    console = Console()
    for d in described:  # one block per workload: lines wrap between entries, never inside a name
        console.print(Text.assemble((d["name"], "bold"), "  ", (d["source"], "dim")))
        params = ", ".join(f"{p}={v['default']!r}" for p, v in d["parameters"].items()) or "-"
        lines = [Text(d["summary"], style="italic")] if d["summary"] else []
        lines += [
            Text.assemble(("parameters: ", "cyan"), params),
            Text.assemble(("metrics: ", "cyan"), ", ".join(d["metrics"]) or "-"),
        ]
        for line in lines:
            console.print(Padding(line, (0, 0, 0, 2), expand=False))
        console.print()
    for message in broken:
        click.echo(f"error: {message}", err=True)
    if broken:
        sys.exit(EXIT_BAD_INPUT)


@main.command()
@click.argument("report_a", metavar="A.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("report_b", metavar="B.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--exit-code", is_flag=True, help="Exit 1 when the reports differ (as `git diff --exit-code`).")
def compare(report_a: Path, report_b: Path, exit_code: bool) -> None:
    """Show which statuses, outcomes and expectation results differ between two JSON reports.

    A report is what `harness run --json` or `pytest scenarios/ --harness-json` wrote;
    runs are paired by scenario, variant and seed. Metric values are not compared.

    \b
    harness compare torch25.json torch26.json   # the same scenarios under two PyTorch versions
    """
    from rich.console import Console
    from rich.markup import escape

    from harness.compare import (
        ReportError,
        column_labels,
        compare_reports,
        load_report,
        scenario_reports,
        torch_version_of,
    )

    try:
        a, b = load_report(report_a), load_report(report_b)
    except ReportError as exc:
        raise BadInput(str(exc)) from None
    console = Console()
    label_a, label_b = column_labels(a, b)
    for label, path, payload in ((label_a, report_a, a), (label_b, report_b, b)):
        names = ", ".join(scenario_reports(payload))
        version = torch_version_of(payload) or "?"
        console.print(escape(f"{label}: {path}  (scenario {names}, torch {version})"), highlight=False)
    only = set(scenario_reports(a)) ^ set(scenario_reports(b))
    if only:
        console.print(f"[yellow]warning: scenarios in only one of the files: {escape(', '.join(sorted(only)))}[/]")
    differences, total = compare_reports(a, b)
    if not differences:
        console.print(f"no differences in status, outcomes or expectations ({total} run(s))")
        return
    from harness.reports.terminal import differences_section

    console.print(differences_section(console, differences, label_a, label_b))
    runs = len({(d.scenario, d.variant, d.seed) for d in differences})
    console.print(f"{runs} of {total} run(s) differ")
    sys.exit(EXIT_FAILED if exit_code else EXIT_OK)


@main.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--variant", "-v", default="broken", show_default=True, metavar="NAME", help="The variant to diagnose (the incident).")
@run_options(
    before_reports=[
        click.option(
            "--expect", "expect", multiple=True, metavar="LINE",
            help="The cure criterion, one expectation line each (repeatable), e.g. --expect 'final.f1 >= 0.8'. Default: "
            "no finding of the kinds the variant showed, the main metric at least as good as plain training's, status ok.",
        ),
        click.option(
            "--pass-rate", "pass_rate", metavar="RATE",
            help="Cured = this share of seeds passes the criterion, e.g. '>= 0.8'. Default: every seed.",
        ),
        click.option(
            "--tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True,
            help="How far (relative) below the reference's mean metric a cure may stay (about the seed-to-seed spread).",
        ),
        click.option("--max-candidates", type=click.IntRange(min=1), default=8, show_default=True, help="Single fixes tried at most."),
        click.option(
            "--max-combination", type=click.IntRange(min=1), default=2, show_default=True,
            help="Fixes per combination when no single fix cures (1: no combinations).",
        ),
        click.option("--top", type=click.IntRange(min=2), default=4, show_default=True, help="Combinations are of the top N candidates."),
    ],
    results_help="Where each run's result is written. Default: .harness/<scenario name>/doctor.",
    address_help="With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001).",
)
def doctor(
    scenario_path: Path, variant: str, seeds: tuple[int, ...], n_seeds: int | None, expect: tuple[str, ...],
    pass_rate: str | None, tolerance: float, max_candidates: int, max_combination: int, top: int,
    report_targets: dict, execution: Execution, plugin_flags: PluginFlags,
) -> None:
    """Diagnose a broken variant and prove a fix: findings -> candidate fixes -> cure.

    Runs --variant and plain training (every fix and bug off) as the reference, proposes
    the installed fixes that address the variant's findings (each fix declares the finding
    kinds it addresses), ranked, and tries them: every single one, then combinations of the
    top ones when none cures alone. Cured = every seed (or --pass-rate of them) has no
    finding of the variant's kinds, the workload's main metric at least as good as the
    reference's (--tolerance), status ok; or the --expect lines. Prints the proven fix as a
    ready-to-paste `fixed:` variant. Exit 0 when a fix was proven, 1 when none was, 2 bad
    input, 130 interrupted. The logic is harness/doctor.py.

    \b
    harness doctor scenarios/issue11.yaml --variant broken -j 2 --json doctor.json
    harness doctor scenarios/bugs/foreign_optimizer.yaml --seeds 3 --expect 'final.accuracy >= 0.9'
    """
    from rich.console import Console

    from harness import doctor as doc
    from harness.expectations import ExpectationSyntaxError
    from harness.runner import default_results_dir, suite_report

    console = Console()
    scenario = _load(scenario_path, plugin_flags)
    _check_start_method()
    _check_variant(scenario, scenario_path, "--variant", variant)
    rule = _pass_rate(pass_rate)
    seed_list = _seed_list(seeds, n_seeds, scenario.seeds)
    _check_executor(execution)
    out_dir = execution.results_dir or default_results_dir(scenario) / "doctor"
    _check_environment()
    metric = next(iter(scenario.key_metrics), None)
    with _exit_on_interrupt(console, lambda: out_dir):
        try:
            derived, records, section = doc.diagnose(
                scenario, variant, seed_list, lambda arms, keys: _run_keys(console, arms, keys, out_dir, execution, metric),
                expect=list(expect), rule=rule, tolerance=tolerance, max_candidates=max_candidates,
                max_combination=max_combination, top=top,
                log=lambda line: console.print(f"[dim]doctor: {line}[/]") if not execution.quiet else None,
            )
        except ExpectationSyntaxError as exc:
            raise BadInput(f"--expect: {exc}") from None
    report = suite_report(derived, records)
    report["doctor"] = section
    report["passed"] = section["best"] is not None
    _finish(console, report, report_targets, details=False)


if __name__ == "__main__":  # pragma: no cover
    main()
