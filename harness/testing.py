"""Helpers for testing plugins on a tiny workload in well under a second per run.

Plugin authors (built-in or third-party) use these the way pytest plugin authors use
``pytester``: build a real :class:`~harness.state.TrainState` on a tiny RoBERTa and a
few dozen synthetic functions, enable the plugins under test, train, and assert on
what changed.

    from harness.testing import run_tiny
    state, record = run_tiny({"grad_clip": {"max_norm": 0.1}}, epochs=1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_DEVIGN: dict[str, Any] = {
    "n_train": 96,
    "n_val": 48,
    "max_length": 32,
    "vocab_size": 300,
    "hidden_size": 16,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 32,
    "attention_dropout": 0.0,
    "eval_batch_size": 64,
}


def tiny_workload(**overrides: Any) -> Any:
    from harness.workloads.devign import DevignWorkload, Params

    return DevignWorkload(Params(**(TINY_DEVIGN | overrides)))


def tiny_train_config(**overrides: Any) -> Any:
    from harness.scenario import TrainConfig

    base = {"epochs": 2, "batch_size": 32, "lr": 1e-3, "device": "cpu", "warmup_ratio": 0.1}
    return TrainConfig(**(base | overrides))


def enabled_plugins(settings: dict[str, Any], *, monitors: bool = True) -> dict[str, Any]:
    """Validated params of ``settings`` plus the core (and, by default, the monitors)."""
    from harness.pluginmanager import discover_plugins
    from harness.scenario import plugin_setting

    available = discover_plugins()
    enabled: dict[str, Any] = {}
    for name, info in available.items():
        if info.kind == "core" or (monitors and info.kind == "monitor"):
            enabled[name] = info.cls.Params()
    for name, value in settings.items():
        setting = plugin_setting(value)
        if setting is None:
            enabled.pop(name, None)
        else:
            enabled[name] = available[name].cls.Params.model_validate(setting)
    return enabled


def make_state(workload: Any = None, seed: int = 0, run_dir: Path | None = None, **train: Any) -> Any:
    """A fresh, seeded TrainState on the tiny workload (nothing trained yet)."""
    from harness.loop import build_state, resolve_device

    cfg = tiny_train_config(**train)
    return build_state(workload or tiny_workload(), cfg, seed, resolve_device(cfg.device), run_dir)


def run_tiny(
    plugins: dict[str, Any] | None = None,
    *,
    observers: tuple[Any, ...] = (),
    monitors: bool = True,
    workload: Any = None,
    seed: int = 0,
    run_dir: Path | None = None,
    **train: Any,
) -> tuple[Any, str, dict[str, dict[str, int]]]:
    """Train the tiny workload with ``plugins`` on; returns ``(state, status, trace)``."""
    from harness.loop import train as train_loop
    from harness.pluginmanager import build_run_manager, discover_plugins

    pm, trace = build_run_manager(discover_plugins(), enabled_plugins(plugins or {}, monitors=monitors), observers)
    state = make_state(workload, seed, run_dir, **train)
    status = train_loop(state, pm.hook)
    return state, status, trace.as_dict()
