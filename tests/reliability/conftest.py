"""Fixtures of the reliability tests: tiny scenarios that load the misbehaving test plugins."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.testing import TINY_DEVIGN

HERE = Path(__file__).resolve().parent
FAULT_MODULE = "harness_fault_plugins"
FAULT_PLUGINS = [
    f"{FAULT_MODULE}:{cls}"
    for cls in (
        "InjectNonFinite",
        "RaiseInHook",
        "BadInit",
        "Hang",
        "HardExit",
        "RunCounter",
        "SwapCheckpoint",
        "FailWrites",
        "FillDisk",
    )
]


@pytest.fixture(autouse=True)
def _fault_plugins_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``harness_fault_plugins`` is importable in this process (and in forked workers)."""
    monkeypatch.syspath_prepend(str(HERE))


def scenario_dict(
    variants: dict[str, Any],
    *,
    name: str = "faults",
    epochs: int = 2,
    seeds: tuple[int, ...] = (0,),
    plugins: dict[str, Any] | None = None,
    plugin_modules: list[str] | None = None,
) -> dict[str, Any]:
    """A tiny devign scenario (3 optimizer steps per epoch, about a second per run)."""
    return {
        "name": name,
        "workload": {"name": "devign", "params": dict(TINY_DEVIGN)},
        "train": {"epochs": epochs, "batch_size": 32, "lr": 1.0e-3, "warmup_ratio": 0.1, "device": "cpu", "threads": 1},
        "plugins": plugins or {},
        "plugin_modules": FAULT_PLUGINS if plugin_modules is None else plugin_modules,
        "seeds": list(seeds),
        "variants": variants,
    }


@pytest.fixture()
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    """``write_scenario(variants, **options)`` -> path of a tiny scenario file (see scenario_dict)."""

    def write(variants: dict[str, Any], *, filename: str = "scenario.yaml", **options: Any) -> Path:
        path = tmp_path / filename
        path.write_text(yaml.safe_dump(scenario_dict(variants, **options), sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture()
def harness_env() -> dict[str, str]:
    """Environment for a ``python -m harness.cli`` subprocess that can import the test plugins."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env
