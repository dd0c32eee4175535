"""What ``harness plugins`` and ``harness workloads`` show: each entry described as data
(also their ``--json``) and printed as one block per entry (lines wrap between words, never
inside a name)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.text import Text


def describe_plugin(info: object) -> dict[str, Any]:
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
            p: {
                "default": "(required)" if f.is_required() else f.get_default(call_default_factory=True),
                "description": f.description or "",
            }
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


def print_plugins(console: Console, described: list[dict[str, Any]]) -> None:
    """One block per plugin: name, kind, source, summary, hooks, parameters, findings."""
    for d in described:  # one block per plugin, as `harness workloads`: lines wrap between words, never inside a name
        default = (
            "always on" if d["kind"] == "core" else "on by default" if d["enabled_by_default"] else "off by default"
        )
        console.print(Text.assemble((d["name"], "bold"), "  ", f"{d['kind']}, {default}", "  ", (d["source"], "dim")))
        params = ", ".join(f"{p}={v['default']!r}" for p, v in d["parameters"].items()) or "-"
        lines = [Text(d["summary"], style="italic")] if d["summary"] else []
        lines += [
            Text.assemble(("hooks: ", "cyan"), ", ".join(d["hooks"]) or "-"),
            Text.assemble(("parameters: ", "cyan"), params),
        ]
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


def describe_workload(entry: object) -> dict[str, Any]:
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


def print_workloads(console: Console, described: list[dict[str, Any]]) -> None:
    """One block per workload: name, source, summary, parameters, metrics."""
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
