"""Workloads build the model and data a scenario trains on; looked up by name.

Registry values are dotted names so that listing workloads imports nothing heavy.
"""

from __future__ import annotations

from harness.workloads.base import Workload

WORKLOADS: dict[str, str] = {
    "devign": "harness.workloads.devign:DevignWorkload",
    "patch_distillation": "harness.workloads.patch_distillation:PatchDistillationWorkload",
}


def workload_class(name: str) -> type[Workload]:
    """The workload class registered under ``name`` (KeyError when unknown)."""
    from harness.pluginmanager import load_object

    return load_object(WORKLOADS[name])


def workload_params_model(name: str):
    """The pydantic model of a workload's parameters, without importing torch."""
    from harness.pluginmanager import load_object

    module, _, attr = WORKLOADS[name].partition(":")
    return load_object(f"{module}:Params")
