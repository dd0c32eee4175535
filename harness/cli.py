"""The ``harness`` command line.

Exit codes: 0 every expectation held, 1 an expectation failed or a run errored,
2 bad input (a malformed scenario, an unknown variant or plugin). Heavy modules
(torch, transformers) are imported only inside the commands that train.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(click.ClickException):
    exit_code = EXIT_BAD_INPUT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="harness")
def main() -> None:
    """Replay training incidents as scenarios and prove which fix cures them.

    \b
    harness run scenarios/issue11.yaml                 # broken vs fixed, A/B report
    harness run scenarios/issue11.yaml --variant fixed # one variant
    harness plugins                                    # every fix and monitor
    """


@main.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--variant", "-v", "variants", multiple=True, metavar="NAME", help="Run only this variant (repeatable). Default: all.")
@click.option("--seed", "seeds", type=int, multiple=True, metavar="S", help="Run with this seed (repeatable). Default: the scenario's seeds.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Override the scenario's train.device.")
@click.option(
    "--results-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where each run's result and checkpoints are written. Default: .harness/<scenario name>.",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None,
    help="Runs in parallel, each in its own worker process. Default: number of CPU cores.",
)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Per-run limit in seconds; a run past it ends with status 'timeout'.")
@click.option("--resume", is_flag=True, help="Skip runs whose valid result for the same configuration is already in the results dir.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars; print only the table.")
@click.option(
    "--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
    help="local: worker processes on this machine; ray: one Ray task per run (pip install 'harness[ray]').",
)
@click.option(
    "--address", metavar="ADDR",
    help="With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001). Default: $RAY_ADDRESS or a local Ray instance.",
)
@click.option(
    "--without", "without", multiple=True, metavar="PLUGIN",
    help="Switch this plugin off in every variant (repeatable), as `plugins: {PLUGIN: false}` would.",
)
def run(
    scenario_path: Path,
    variants: tuple[str, ...],
    seeds: tuple[int, ...],
    json_path: Path | None,
    device: str | None,
    results_dir: Path | None,
    jobs: int | None,
    timeout: float | None,
    resume: bool,
    quiet: bool,
    without: tuple[str, ...],
    executor: str,
    address: str | None,
) -> None:
    """Run SCENARIO's variants and check their expectations."""
    from rich.console import Console

    from harness.expectations import closest
    from harness.scenario import ScenarioError, load_scenario

    console = Console(stderr=False)
    try:
        scenario = load_scenario(scenario_path, plugin_overrides={name: False for name in without})
    except ScenarioError as exc:
        raise BadInput(str(exc)) from None
    for name in variants:
        if name not in scenario.variants:
            raise BadInput(f"{scenario_path}: unknown variant {name!r}{closest(name, list(scenario.variants))}")

    from harness.reports.json_report import write_json_report
    from harness.reports.terminal import RunProgress, print_report
    from harness.runner import default_results_dir, plan_runs, run_passed, run_suite, suite_report

    keys = plan_runs(scenario, list(variants) or None, list(seeds) or None)
    out_dir = results_dir or default_results_dir(scenario)
    if address and executor != "ray":
        raise BadInput("--address needs --executor ray")
    if executor == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise BadInput("--executor ray needs Ray: pip install 'harness[ray]'")
    jobs = jobs or (None if executor == "ray" else os.cpu_count() or 1)  # ray: Ray's scheduler decides
    with RunProgress(console, keys, enabled=not quiet) as progress:
        try:
            records = run_suite(
                scenario, keys, results_dir=out_dir, jobs=jobs, timeout=timeout, device=device,
                resume=resume, progress=progress.event, executor=executor, address=address,
            )
        except KeyboardInterrupt:
            console.print(f"[red]interrupted[/]: finished runs are kept in {out_dir}/results; rerun with --resume")
            sys.exit(130)
    report = suite_report(scenario, records)
    if json_path:
        write_json_report(json_path, report)
    print_report(console, report)
    sys.exit(EXIT_OK if all(run_passed(r) for r in records) else EXIT_FAILED)


def describe_plugin(info: object) -> dict:
    """What ``harness plugins`` shows of one plugin (also its ``--json`` entry)."""
    from importlib import metadata

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
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON instead of a table.")
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
    from rich.table import Table

    table = Table(title="harness plugins")
    for col in ("name", "kind", "source", "hooks", "parameters"):
        table.add_column(col, overflow="fold")
    for d in described:
        params = "\n".join(f"{p}={v['default']!r}" for p, v in d["parameters"].items()) or "-"
        table.add_row(d["name"], d["kind"], d["source"], "\n".join(d["hooks"]), params)
    Console().print(table)


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
    from rich.table import Table

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
    table = Table(title="differences")
    for col in ("scenario", "variant", "seed", "what", label_a, label_b):
        table.add_column(escape(col), overflow="fold")
    for d in differences:
        table.add_row(*(escape(str(cell)) for cell in (d.scenario, d.variant, d.seed, d.what, d.a, d.b)))
    console.print(table)
    runs = len({(d.scenario, d.variant, d.seed) for d in differences})
    console.print(f"{runs} of {total} run(s) differ")
    sys.exit(EXIT_FAILED if exit_code else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
