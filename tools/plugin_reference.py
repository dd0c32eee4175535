"""The plugin reference page (docs/plugins.md), generated from the plugins' own declarations.

A MkDocs hook (``hooks:`` in mkdocs.yml): the marker ``<!-- plugin-reference -->`` in
docs/plugins.md is replaced, at build time, by one section per installed plugin, made
from what ``harness plugins --json`` prints (harness.reports.listings.describe_plugin):
kind, whether it is on by default, its parameters with their defaults, the hooks it
implements, the finding kinds it records, what it addresses (a fix) or shows as (a bug).
Nothing is written by hand, so the page cannot fall behind the code;
tests/test_docs_site.py checks that every plugin has its section.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- plugin-reference -->"
#: in docs/detectors.md: the table of finding kinds, from their one declaration (FindingKind)
KINDS_MARKER = "<!-- finding-kinds -->"
KINDS = (("core", "Core"), ("fix", "Fixes"), ("monitor", "Monitors"), ("bug", "Bugs (the catalog)"))


def _codes(values: list[str]) -> str:
    return ", ".join(f"`{v}`" for v in values) if values else "—"


def _section(entry: dict[str, Any]) -> list[str]:
    lines = [f"### `{entry['name']}`", "", entry["summary"] or "", ""]
    on = "on by default" if entry["enabled_by_default"] else "off unless a variant enables it"
    lines += [f"- **kind**: {entry['kind']} ({on}); `{entry['module']}`", f"- **hooks**: {_codes(entry['hooks'])}"]
    for label, key in (("finding kinds", "finding_kinds"), ("addresses", "addresses"), ("shows as", "shows_as")):
        if entry[key]:
            lines.append(f"- **{label}**: {_codes(entry[key])}")
    for label, key in (("slots", "slots"), ("replaces", "replaces")):
        if entry[key]:
            lines.append(f"- **{label}**: {_codes(entry[key])}")
    params = entry["parameters"]
    if params:
        lines += ["", "| parameter | default | description |", "|---|---|---|"]
        for name, spec in params.items():
            default = str(spec["default"]).replace("|", "\\|")
            description = spec["description"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | `{default}` | {description} |")
    else:
        lines += ["", "No parameters."]
    return [*lines, ""]


def plugin_entries() -> list[dict[str, Any]]:
    """Every installed plugin as ``harness plugins --json`` describes it, sorted by name."""
    from harness.core.pluginmanager import discover_plugins
    from harness.reports.listings import describe_plugin

    return [describe_plugin(info) for _, info in sorted(discover_plugins().items())]


def reference() -> str:
    """The generated Markdown: one section per kind, one subsection per plugin."""
    entries = plugin_entries()
    lines: list[str] = []
    for kind, title in KINDS:
        chosen = [e for e in entries if e["kind"] == kind]
        if chosen:
            lines += [f"## {title}", ""]
            for entry in chosen:
                lines += _section(entry)
    return "\n".join(lines)


def kinds_reference() -> str:
    """One row per finding kind: what it means, who emits it, where watch points, its causes and cures."""
    from harness.core.findings import declared_kinds
    from harness.core.pluginmanager import discover_plugins

    available = discover_plugins()
    emitters: dict[str, list[str]] = {}
    for name, info in sorted(available.items()):
        for kind in info.cls.finding_kinds:
            emitters.setdefault(kind, []).append(name)
    lines = ["| kind | what it means | emitted by | watch points at | causes (fix plugins) |", "|---|---|---|---|---|"]
    for name, kind in sorted(declared_kinds(available).items()):
        causes = "; ".join(
            c.name + (f" ({', '.join(f'`{f}`' for f in c.fixes)})" if c.fixes else "") for c in kind.causes
        )
        meaning = kind.meaning + (" *(LR-type: the doctor runs the LR range test)*" if kind.lr_type else "")
        site = f"`{kind.site}`" if kind.site else "—"
        lines.append(f"| `{name}` | {meaning} | {_codes(emitters.get(name, []))} | {site} | {causes or '—'} |")
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """MkDocs hook: fill the markers of docs/plugins.md and docs/detectors.md."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, reference())
    if KINDS_MARKER in markdown:
        markdown = markdown.replace(KINDS_MARKER, kinds_reference())
    return markdown
