"""harness plugins / harness workloads: what is installed, as blocks, a table or JSON."""

from __future__ import annotations

import sys

import click

from harness.cli.driver import EXIT_BAD_INPUT, EXIT_OK, BadInput


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON instead of one block per plugin.")
def plugins(as_json: bool) -> None:
    """List every plugin: built-in or external, its source distribution, hooks and parameters.

    Switch one off for a run with `harness run SCENARIO --without NAME`, or in a
    scenario with `plugins: {NAME: false}`.
    """
    import json

    from harness.core.pluginmanager import PluginLoadError, discover_plugins

    try:
        found = discover_plugins()
    except PluginLoadError as exc:
        raise BadInput(str(exc)) from None
    from harness.reports.listings import describe_plugin

    described = [describe_plugin(info) for _, info in sorted(found.items())]
    if as_json:
        click.echo(json.dumps(described, indent=1, default=str))
        return
    from rich.console import Console

    from harness.reports.listings import print_plugins

    print_plugins(Console(highlight=False), described)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON instead of a table.")
def workloads(as_json: bool) -> None:
    """List every named workload: built-in or from an installed package, its parameters and metrics.

    A scenario names one in `workload: {name: NAME, params: {...}}`; a workload of your
    own needs no registration: `workload: {name: my_module:MyWorkload}` with my_module
    importable (e.g. PYTHONPATH=.). Installed packages register theirs in the
    `harness.workloads` entry-point group.
    """
    import json

    from harness.core.resolver import LoadError
    from harness.workloads import available_workloads

    try:
        entries = sorted(available_workloads().items())
    except LoadError as exc:
        raise BadInput(str(exc)) from None
    from harness.reports.listings import describe_workload

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

    from harness.reports.listings import print_workloads

    print_workloads(Console(), described)
    for message in broken:
        click.echo(f"error: {message}", err=True)
    if broken:
        sys.exit(EXIT_BAD_INPUT)
