"""The one way harness turns a name into a class: plugins and workloads alike.

A name is one of: a built-in (a dotted ``module:Class`` in a table, imported only when
needed), an entry point registered by an installed package (group ``harness`` for
plugins, ``harness.workloads`` for workloads), or an explicit ``package.module:Class``
importable from ``sys.path``. Naming a module runs its code, as a conftest's does.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

#: an explicit ``package.module:Class`` reference
OBJECT_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class LoadError(Exception):
    """A plugin or workload that cannot be imported, or is not what it claims to be."""


def load_object(dotted: str, what: str = "plugin") -> Any:
    """Import ``package.module:attr`` (naming a module runs its code, as a conftest does)."""
    module_name, _, attr = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    except (ImportError, AttributeError) as exc:
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name and module_name.split(".")[0] == exc.name.split(".")[0]:
            hint = " (not importable from sys.path: for a module in directory DIR, run with PYTHONPATH=DIR)"
        raise LoadError(f"cannot load {what} {dotted!r}: {exc}{hint}") from exc
    except Exception as exc:  # the module itself failed while being imported
        raise LoadError(f"cannot load {what} {dotted!r}: importing it raised {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Entry:
    """A name that can be resolved, where it came from, and what it points at (not imported yet)."""

    name: str
    target: str  # "package.module:Class"
    source: str  # "builtin", a distribution name, or the explicit reference itself


def entry_points(group: str) -> list[Entry]:
    """The entry points of ``group`` as :class:`Entry` objects (nothing imported)."""
    found = []
    for ep in metadata.entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        found.append(Entry(ep.name, ep.value, dist))
    return found


def distribution_label(source: str) -> str:
    """``harness (built-in)``, ``NAME VERSION`` for an installed distribution, else ``source``."""
    if source == "builtin":
        return "harness (built-in)"
    try:
        return f"{source} {metadata.version(source)}"
    except (metadata.PackageNotFoundError, ValueError):
        return source


def params_defaults(model: Any) -> dict[str, dict[str, Any]]:
    """``{param: {default, description}}`` of a pydantic model, for listings."""
    return {
        p: {
            "default": "(required)" if f.is_required() else f.get_default(call_default_factory=True),
            "description": f.description or "",
        }
        for p, f in model.model_fields.items()
    }


def closest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid name, or an empty string."""
    import difflib

    best = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {best[0]!r}?)" if best else ""
