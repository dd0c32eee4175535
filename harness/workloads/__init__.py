"""Workloads build the model and data a scenario trains on; found the way plugins are.

``workload.name`` in a scenario is one of:

- a built-in name (:data:`BUILTIN_WORKLOADS`);
- a name an installed package registers in the entry-point group ``harness.workloads``
  (``[project.entry-points."harness.workloads"] my_net = "my_pkg.workload:MyNet"``);
- an explicit ``package.module:Class`` importable from ``sys.path`` (``PYTHONPATH=.``
  for a module next to the scenario). Naming a module runs its code, as a conftest's does.

Values are dotted names, so listing workloads imports nothing until it is asked for.
"""

from __future__ import annotations

from typing import Any

from harness.core.resolver import OBJECT_REF, Entry, LoadError, entry_points, load_object
from harness.workloads.base import Workload

ENTRY_POINT_GROUP = "harness.workloads"

BUILTIN_WORKLOADS: dict[str, str] = {
    "devign": "harness.workloads.devign:DevignWorkload",
    "patch_distillation": "harness.workloads.patch_distillation:PatchDistillationWorkload",
    "tabular": "harness.workloads.tabular:TabularWorkload",
    "tabular_regression": "harness.workloads.tabular_regression:TabularRegressionWorkload",
    "text_classification": "harness.workloads.text_classification:TextClassificationWorkload",
}


class UnknownWorkload(LoadError):
    """A workload name that is neither built in, nor an entry point, nor ``module:Class``."""

    def __init__(self, name: str, available: list[str]) -> None:
        from harness.core.resolver import closest

        self.name, self.available = name, available
        super().__init__(
            f"unknown workload {name!r}{closest(name, available)}; available: {', '.join(available)}"
            " (or a 'package.module:Class' importable from sys.path)"
        )


def available_workloads() -> dict[str, Entry]:
    """Every named workload: built-ins first, then the ``harness.workloads`` entry points."""
    found = {name: Entry(name, target, "builtin") for name, target in BUILTIN_WORKLOADS.items()}
    for entry in entry_points(ENTRY_POINT_GROUP):
        if entry.name in found and found[entry.name].target != entry.target:
            raise LoadError(f"two workloads are named {entry.name!r}: {found[entry.name].source} and {entry.source}")
        found[entry.name] = entry
    return found


def find_workload(name: str) -> Entry:
    """The entry ``name`` resolves to (not imported); raises :class:`UnknownWorkload`."""
    if OBJECT_REF.match(name):
        return Entry(name, name, name)
    available = available_workloads()
    if name not in available:
        raise UnknownWorkload(name, list(available))
    return available[name]


def workload_class(name: str) -> type[Workload]:
    """The :class:`Workload` subclass ``name`` resolves to (imports its module)."""
    entry = find_workload(name)
    cls = load_object(entry.target, "workload")
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise LoadError(f"workload {name!r} ({entry.target}) is not a subclass of harness.Workload")
    return cls


def workload_params_model(name: str) -> Any:
    """The pydantic model of a workload's parameters."""
    return workload_class(name).Params


__all__ = [
    "BUILTIN_WORKLOADS",
    "ENTRY_POINT_GROUP",
    "UnknownWorkload",
    "Workload",
    "available_workloads",
    "find_workload",
    "workload_class",
    "workload_params_model",
]
