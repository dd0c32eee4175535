"""harness plugins / harness workloads: what is installed, as blocks, a table or JSON."""

from __future__ import annotations
import sys
import click

from harness.cli.driver import EXIT_BAD_INPUT, EXIT_OK
from harness.cli.driver import BadInput


def describe_plugin(info: object) -> dict:
    """What ``harness plugins`` shows of one plugin (also its ``--json`` entry)."""
    from importlib import metadata

    from harness.core.pluginmanager import plugin_slots

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
        # the conflict rule (harness.core.pluginmanager.resolve_conflicts): what it competes for, what it supersedes
        "slots": sorted(plugin_slots(cls)),
        "replaces": list(cls.replaces),
        # harness doctor (a fix: the findings it may cure) and the detector benchmark (a bug: how it shows)
        "addresses": list(cls.addresses),
        "shows_as": list(cls.shows_as),
    }


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
    from harness.core.resolver import distribution_label, params_defaults
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
