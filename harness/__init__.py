"""harness: replay deep-learning training incidents as scenarios and prove which fix cures them.

Importing this package is cheap on purpose: torch and transformers are imported only
by the modules that train, so ``harness --help`` starts fast. The public names below
are imported when first used:

- :class:`harness.Workload`: the base class of a workload (your model and data);
- :func:`harness.run_scenario`: run a scenario from Python and get its report;
- :func:`harness.watch`: watch your own training code (a context manager) for pathologies.
"""

from __future__ import annotations

from typing import Any

from harness.core.version import __version__

_LAZY = {
    "Workload": ("harness.workloads.base", "Workload"),
    "run_scenario": ("harness.api", "run_scenario"),
    "watch": ("harness.integrations.watch", "watch"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


__all__ = ["Workload", "__version__", "run_scenario", "watch"]
