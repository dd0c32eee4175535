"""The ``harness`` command line.

Exit codes: 0 every expectation held, 1 an expectation failed or a run errored,
2 bad input (a malformed scenario, an unknown variant or plugin). Heavy modules
(torch, transformers) are imported only inside the commands that train.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    """Bad input, exit 2: each line of the message (one per problem) printed as ``Error: LINE``."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        for line in self.format_message().splitlines() or [""]:
            click.echo(f"Error: {line}", file=file, err=file is None)


def report_options(func):  # type: ignore[no-untyped-def]
    """One option per report renderer (``harness.reports.FILE_REPORTS``): ``--NAME PATH``, ``DIR``
    or ``URI`` by its ``TARGET``, refused (exit 2) when a package it needs is missing. The
    command receives them together as ``report_targets``: ``{name: path, URI or None}``."""
    import functools

    from harness.reports import FILE_REPORTS, TARGETS, missing_requirement, renderer, target_kind

    names = list(FILE_REPORTS)

    @functools.wraps(func)
    def command(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["report_targets"] = {name: kwargs.pop(f"{name}_report") for name in names}
        return func(*args, **kwargs)

    def needs(module):  # type: ignore[no-untyped-def]
        def check(ctx, param, value):  # type: ignore[no-untyped-def]
            message = missing_requirement(module) if value is not None else None
            if message:
                raise click.BadParameter(message)
            return value

        return check

    kinds = {"file": click.Path(dir_okay=False, path_type=Path), "dir": click.Path(file_okay=False, path_type=Path),
             "uri": str}
    for name in reversed(names):
        module = renderer(name)
        kind = target_kind(module)
        command = click.option(
            module.FLAG, f"{name}_report", type=kinds[kind], default=None, help=module.HELP,
            metavar=getattr(module, "METAVAR", TARGETS[kind]), callback=needs(module),
        )(command)
    return command


def plugin_options(func):  # type: ignore[no-untyped-def]
    """``--with``, ``--without`` and ``--set``: derive any variant ad hoc, validated like the YAML."""
    func = click.option(
        "--set", "sets", multiple=True, metavar="PLUGIN.PARAM=VALUE|train.FIELD=VALUE",
        help="Set a plugin parameter in every variant (repeatable; switches the plugin on), as "
        "`plugins: {PLUGIN: {PARAM: VALUE}}` would; `--set train.FIELD=VALUE` sets a training field "
        "(e.g. train.lr=1.0, train.epochs=3). VALUE is read as YAML (0.5, true, null, step).",
    )(func)
    func = click.option(
        "--with", "with_", multiple=True, metavar="PLUGIN",
        help="Switch this plugin on in every variant (repeatable), as `plugins: {PLUGIN: true}` would; "
        "a variant that already has it keeps its parameters.",
    )(func)
    func = click.option(
        "--without", "without", multiple=True, metavar="PLUGIN",
        help="Switch this plugin off in every variant (repeatable), as `plugins: {PLUGIN: false}` would.",
    )(func)
    return func


def _load(scenario_path: Path, with_: tuple[str, ...], without: tuple[str, ...], sets: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from harness.scenario import ScenarioError, load_scenario, parse_plugin_options

    try:
        overrides = parse_plugin_options(with_, without, sets)
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


def _load_all(paths: list[Path], with_: tuple[str, ...], without: tuple[str, ...], sets: tuple[str, ...]) -> list:  # type: ignore[type-arg]
    """Every scenario of ``paths``, or bad input naming every problem of every file."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(_load(path, with_, without, sets))
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


def _check_start_method() -> None:
    """``$HARNESS_START_METHOD`` names a start method this platform has (else bad input, exit 2)."""
    import multiprocessing as mp

    from harness.executor import START_METHOD_ENV

    method = os.environ.get(START_METHOD_ENV)
    if method and method not in mp.get_all_start_methods():
        raise BadInput(f"${START_METHOD_ENV}={method!r}: choose one of {', '.join(mp.get_all_start_methods())}")


def _seed_list(seed: tuple[int, ...], n_seeds: int | None, scenario_seeds: list[int]) -> list[int]:
    if seed and n_seeds:
        raise BadInput("give either --seed S (repeatable) or --seeds N, not both")
    if n_seeds:
        return list(range(n_seeds))
    return list(seed) or list(scenario_seeds)


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
@click.option("--seed", "seeds", type=int, multiple=True, metavar="S", help="Run with this seed (repeatable). Default: the scenario's seeds.")
@click.option(
    "--seeds", "n_seeds", type=click.IntRange(min=1), metavar="N",
    help="Run every variant with seeds 0..N-1; verdicts use the expectations' pass rates over them.",
)
@report_options
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the scenario's train.device.")
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where each run's result and checkpoints are written. Default: .harness/<scenario name> "
    "(with DIR: DIR_GIVEN/<scenario name>).",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Runs in parallel, each in its own worker process. Default: number of CPU cores.",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Per-run limit in seconds; a run past it ends with status 'timeout'.")
@click.option("--resume", is_flag=True, help="Skip runs whose valid result for the same configuration is already in the results dir.")
@click.option(
    "--decide-early", is_flag=True,
    help="Stop a run at the end of the epoch where its variant's verdict is decided, and skip a variant's "
    "remaining seeds once it is (as harness ablate does). Default: every run trains to its end.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars; print only the table.")
@click.option(
    "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="local: worker processes on this machine; ray: one Ray task per run (pip install 'harness[ray]').",
)
@click.option(
    "--address", metavar="ADDR",
    help="With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001). Default: $RAY_ADDRESS or a local Ray instance.",
)
@plugin_options
def run(
    scenario_path: Path,
    variants: tuple[str, ...],
    seeds: tuple[int, ...],
    n_seeds: int | None,
    report_targets: dict,
    device: str | None,
    results_dir: Path | None,
    jobs: int | None,
    timeout: float | None,
    resume: bool,
    decide_early: bool,
    quiet: bool,
    without: tuple[str, ...],
    with_: tuple[str, ...],
    sets: tuple[str, ...],
    executor: str,
    address: str | None,
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

    from harness.expectations import closest

    console = Console(stderr=False)
    directory = scenario_path.is_dir()
    if directory:
        paths, skipped = scenario_files(scenario_path)
        for note in skipped:
            click.echo(f"note: {note}", err=True)
        if not paths:
            raise BadInput(f"{scenario_path}: no scenario files (*.yaml or *.yml with workload and variants) in this directory")
    else:
        paths = [scenario_path]
    scenarios = _load_all(paths, with_, without, sets)
    _check_start_method()
    for name in variants:
        if not any(name in sc.variants for sc in scenarios):
            known = sorted({v for sc in scenarios for v in sc.variants})
            raise BadInput(f"{scenario_path}: unknown variant {name!r}{closest(name, known)}")
    if variants:  # with DIR: only the scenarios that have one of the variants
        scenarios = [sc for sc in scenarios if any(name in sc.variants for name in variants)]

    from harness.reports.terminal import RunProgress, print_report
    from harness.runner import SCHEMA_VERSION, default_results_dir, plan_runs, run_suite, suite_report

    def results_of(sc):  # type: ignore[no-untyped-def]
        if directory:
            return (results_dir / sc.name) if results_dir else default_results_dir(sc)
        return results_dir or default_results_dir(sc)

    if address and executor != "ray":
        raise BadInput("--address needs --executor ray")
    if executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise BadInput("--executor ray needs Ray: pip install 'harness[ray]'")
        from harness.ray_executor import retries_from_env

        try:
            retries_from_env()
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    jobs = jobs or (None if executor == "ray" else os.cpu_count() or 1)  # ray: Ray's scheduler decides
    _check_environment()
    reports = []
    for scenario in scenarios:
        keys = plan_runs(scenario, [v for v in variants if v in scenario.variants] or None, _seed_list(seeds, n_seeds, scenario.seeds))
        out_dir = results_of(scenario)
        if directory and not quiet:
            console.print(f"[bold]{escape(scenario.name)}[/] [dim]{escape(str(scenario.path))}[/]", highlight=False)
        metric = next(iter(scenario.key_metrics), None)
        with _exit_on_interrupt(console, lambda where=out_dir: where), RunProgress(
            console, keys, enabled=not quiet, metric=metric
        ) as progress:
            records = run_suite(
                scenario, keys, results_dir=out_dir, jobs=jobs, timeout=timeout, device=device,
                resume=resume, progress=progress.event, executor=executor, address=address, decide=decide_early,
            )
        reports.append(suite_report(scenario, records))
    if directory:  # one payload for every scenario, as `pytest --harness-json` writes
        report = {"schema_version": SCHEMA_VERSION, "reports": reports, "passed": all(r["passed"] for r in reports)}
    else:
        report = reports[0]
    unwritten = _write_reports(report, report_targets)
    print_report(console, report)
    _exit(report["passed"], unwritten)


@main.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base", default="broken", show_default=True, metavar="VARIANT", help="The variant with the incident.")
@click.option("--target", default="fixed", show_default=True, metavar="VARIANT", help="The variant with the cure; its expectations decide 'cured'.")
@click.option("--seed", "seeds", type=int, multiple=True, metavar="S", help="Run with this seed (repeatable). Default: the scenario's seeds.")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), metavar="N", help="Run every arm with seeds 0..N-1.")
@click.option(
    "--pass-rate", "pass_rate", metavar="RATE",
    help="Cured = this share of seeds passes every target expectation, e.g. '>= 0.8'. "
    "Default: each target expectation's own pass_rate (every seed when it has none).",
)
@report_options
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the scenario's train.device.")
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Where each run's result is written. Default: .harness/<scenario name>/ablation.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Runs in parallel. Default: number of CPU cores.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Per-run limit in seconds.")
@click.option("--resume", is_flag=True, help="Skip runs whose valid result for the same configuration is already in the results dir.")
@click.option(
    "--exhaustive", is_flag=True,
    help="Train every run of every arm to its end. Default: decide early: a run stops at the end of the epoch "
    "where its arm's verdict is decided, and an arm's remaining seeds are skipped once it is.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bars; print only the tables.")
@plugin_options
def ablate(
    scenario_path: Path,
    base: str,
    target: str,
    seeds: tuple[int, ...],
    n_seeds: int | None,
    pass_rate: str | None,
    report_targets: dict,
    device: str | None,
    results_dir: Path | None,
    jobs: int | None,
    timeout: float | None,
    resume: bool,
    exhaustive: bool,
    quiet: bool,
    without: tuple[str, ...],
    with_: tuple[str, ...],
    sets: tuple[str, ...],
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
    from harness.decisions import judge_record, run_verdict
    from harness.expectations import ExpectationSyntaxError, closest, parse_pass_rate
    from harness.pluginmanager import PluginConflictError

    console = Console()
    scenario = _load(scenario_path, with_, without, sets)
    _check_start_method()
    for option, name in (("--base", base), ("--target", target)):
        if name not in scenario.variants:
            raise BadInput(f"{scenario_path}: {option}: unknown variant {name!r}{closest(name, list(scenario.variants))}")
    if base == target:
        raise BadInput("--base and --target name the same variant")
    rule = None
    if pass_rate is not None:
        try:
            rule = parse_pass_rate(pass_rate)
        except ExpectationSyntaxError as exc:
            raise BadInput(f"--pass-rate: {exc}") from None
    seed_list = _seed_list(seeds, n_seeds, scenario.seeds)
    try:
        derived, arms = abl.ablation_scenario(scenario, base, target)
    except PluginConflictError as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    if not any(a.role == "base+fix" for a in arms):
        raise BadInput(f"{scenario_path}: variants {base!r} and {target!r} have the same plugins: nothing to ablate")

    from harness.reports.terminal import RunProgress, print_report
    from harness.runner import default_results_dir, plan_runs, run_suite, suite_report, torch_version
    from harness.verdicts import FAILED_STATUSES, run_ok

    keys = plan_runs(derived, None, seed_list)
    out_dir = results_dir or default_results_dir(scenario) / "ablation"
    _check_environment()
    metric = next(iter(scenario.key_metrics), None)
    with _exit_on_interrupt(console, lambda: out_dir), RunProgress(console, keys, enabled=not quiet, metric=metric) as progress:
        records = run_suite(
            derived, keys, results_dir=out_dir, jobs=jobs or os.cpu_count() or 1, timeout=timeout,
            device=device, resume=resume, progress=progress.event, decide=not exhaustive, rule=rule,
        )
    report = suite_report(derived, records)
    section, acted = abl.judge_arms(arms, records, report["variants"], rule)
    target_exps = scenario.variants[target].expectations
    if rule is not None:
        rule_text = f"the share of seeds passing every expectation of {target!r} is {rule.text}"
    elif any(e.pass_rate for e in target_exps):
        rule_text = f"every expectation of {target!r} holds at its pass_rate (every seed when it has none)"
    else:
        rule_text = f"every expectation of {target!r} holds on every seed"
    own = scenario.variants[base].expectations
    base_runs = [dict(r) for r in records if r["variant"] == base and r["status"] != "skipped"]
    for r in base_runs:  # a run stopped when its arm was decided: its own final.* lines stay open
        r["expectations"] = judge_record(own, r, torch_version())
    trained = [r for r in records if r["status"] != "skipped"]
    section.update(
        rule_text=rule_text,
        pass_rate=rule.text if rule else None,
        expectations=[e.text + (f" [pass_rate {e.pass_rate.text}]" if e.pass_rate else "") for e in target_exps],
        arms=[
            {"variant": a.name, "role": a.role, "fix": a.fix_name, "source": a.source, "switched_on": list(a.switched_on),
             "acted": acted[a.name]}
            for a in arms
        ],
        base_reproduces={
            "passed_runs": sum(run_ok(r) for r in base_runs), "runs": len(base_runs),
            **({"open": unknown} if (unknown := sum(run_verdict(r) is None for r in base_runs)) else {}),
        } if own else None,
        early=None if exhaustive else {
            "runs": len(records), "trained": len(trained), "skipped": len(records) - len(trained),
            "decided": sum(r["status"] == "decided" for r in trained), "steps": sum(r.get("steps") or 0 for r in trained),
        },
        train_differences={k: list(v) for k, v in abl.train_differences(scenario, base, target).items()},
    )
    if section["train_differences"]:
        section["warnings"].append(
            "base and target also differ in train settings (not ablated; each arm keeps its source's): "
            + ", ".join(f"{k} {a} vs {b}" for k, (a, b) in section["train_differences"].items())
        )
    report["ablation"] = section
    finished = all(r["status"] not in FAILED_STATUSES for r in records)
    report["passed"] = finished and section["target"]["cured"]
    unwritten = _write_reports(report, report_targets)
    print_report(console, report, details=False)
    _exit(report["passed"], unwritten)


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

    from harness.compare import ReportError, column_labels, compare_reports, load_report, scenario_reports, torch_version_of

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
@click.option("--seed", "seeds", type=int, multiple=True, metavar="S", help="Run with this seed (repeatable). Default: the scenario's seeds.")
@click.option("--seeds", "n_seeds", type=click.IntRange(min=1), metavar="N", help="Run every arm with seeds 0..N-1.")
@click.option(
    "--expect", "expect", multiple=True, metavar="LINE",
    help="The cure criterion, one expectation line each (repeatable), e.g. --expect 'final.f1 >= 0.8'. Default: "
    "no finding of the kinds the variant showed, the main metric at least as good as plain training's, status ok.",
)
@click.option(
    "--pass-rate", "pass_rate", metavar="RATE",
    help="Cured = this share of seeds passes the criterion, e.g. '>= 0.8'. Default: every seed.",
)
@click.option(
    "--tolerance", type=click.FloatRange(min=0), default=0.05, show_default=True,
    help="How far (relative) below the reference's mean metric a cure may stay (about the seed-to-seed spread).",
)
@click.option("--max-candidates", type=click.IntRange(min=1), default=8, show_default=True, help="Single fixes tried at most.")
@click.option(
    "--max-combination", type=click.IntRange(min=1), default=2, show_default=True,
    help="Fixes per combination when no single fix cures (1: no combinations).",
)
@click.option("--top", type=click.IntRange(min=2), default=4, show_default=True, help="Combinations are of the top N candidates.")
@report_options
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the scenario's train.device.")
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Where each run's result is written. Default: .harness/<scenario name>/doctor.",
)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Runs in parallel. Default: number of CPU cores.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Per-run limit in seconds.")
@click.option("--resume", is_flag=True, help="Skip runs whose valid result for the same configuration is already in the results dir.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars; print only the tables.")
@click.option(
    "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="local: worker processes on this machine; ray: one Ray task per run (pip install 'harness[ray]').",
)
@click.option("--address", metavar="ADDR", help="With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001).")
@plugin_options
def doctor(
    scenario_path: Path,
    variant: str,
    seeds: tuple[int, ...],
    n_seeds: int | None,
    expect: tuple[str, ...],
    pass_rate: str | None,
    tolerance: float,
    max_candidates: int,
    max_combination: int,
    top: int,
    report_targets: dict,
    device: str | None,
    results_dir: Path | None,
    jobs: int | None,
    timeout: float | None,
    resume: bool,
    quiet: bool,
    executor: str,
    address: str | None,
    without: tuple[str, ...],
    with_: tuple[str, ...],
    sets: tuple[str, ...],
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
    from harness.expectations import ExpectationSyntaxError, closest, parse_pass_rate

    console = Console()
    scenario = _load(scenario_path, with_, without, sets)
    _check_start_method()
    if variant not in scenario.variants:
        raise BadInput(f"{scenario_path}: --variant: unknown variant {variant!r}{closest(variant, list(scenario.variants))}")
    rule = None
    if pass_rate is not None:
        try:
            rule = parse_pass_rate(pass_rate)
        except ExpectationSyntaxError as exc:
            raise BadInput(f"--pass-rate: {exc}") from None
    seed_list = _seed_list(seeds, n_seeds, scenario.seeds)
    if address and executor != "ray":
        raise BadInput("--address needs --executor ray")

    from harness.reports.terminal import RunProgress, print_report
    from harness.runner import default_results_dir, run_suite, suite_report

    out_dir = results_dir or default_results_dir(scenario) / "doctor"
    _check_environment()
    metric = next(iter(scenario.key_metrics), None)
    workers = jobs or (None if executor == "ray" else os.cpu_count() or 1)

    def runner(derived, keys):  # type: ignore[no-untyped-def]
        with RunProgress(console, keys, enabled=not quiet, metric=metric) as progress:
            return run_suite(
                derived, keys, results_dir=out_dir, jobs=workers, timeout=timeout, device=device, resume=resume,
                progress=progress.event, executor=executor, address=address,
            )

    with _exit_on_interrupt(console, lambda: out_dir):
        try:
            derived, records, section = doc.diagnose(
                scenario, variant, seed_list, runner, expect=list(expect), rule=rule, tolerance=tolerance,
                max_candidates=max_candidates, max_combination=max_combination, top=top,
                log=lambda line: console.print(f"[dim]doctor: {line}[/]") if not quiet else None,
            )
        except ExpectationSyntaxError as exc:
            raise BadInput(f"--expect: {exc}") from None
    report = suite_report(derived, records)
    report["doctor"] = section
    report["passed"] = section["best"] is not None
    unwritten = _write_reports(report, report_targets)
    print_report(console, report, details=False)
    _exit(report["passed"], unwritten)


if __name__ == "__main__":  # pragma: no cover
    main()
