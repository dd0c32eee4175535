"""The plugins line of a variant: its fixes with their parameters, the monitors on with defaults, the ones off."""

from __future__ import annotations

from typing import Any


def _default_params(info: Any) -> dict[str, Any] | None:
    try:
        params: dict[str, Any] = info.cls.Params().model_dump()
        return params
    except Exception:  # noqa: BLE001 - a required parameter: no defaults to compare with
        return None


def _call(name: str, params: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{name}({inner})" if inner else name


def describe_plugins(plugins: dict[str, dict[str, Any]], catalogue: dict[str, Any] | None = None) -> tuple[str, str]:
    """``(fixes, monitors)``: every fix with all its parameters, one per line; the monitors compactly
    (how many are on with their defaults, plus any with other parameters or switched off)."""
    from harness.core.pluginmanager import plugin_catalogue

    catalogue = plugin_catalogue() if catalogue is None else catalogue
    fixes, monitors_custom, monitors_default = [], [], 0
    for name, params in plugins.items():
        info = catalogue.get(name)
        kind = info.kind if info is not None else "fix"
        if kind == "core":
            if params:
                fixes.append(_call(name, params))
            continue
        if kind == "monitor":
            if info is not None and _default_params(info) == params:
                monitors_default += 1
            else:
                monitors_custom.append(_call(name, params))
            continue
        fixes.append(_call(name, params))
    off = sorted(n for n, info in catalogue.items() if info.kind == "monitor" and n not in plugins)
    parts = []
    if monitors_default:
        parts.append(f"{monitors_default} on with defaults")
    parts += monitors_custom
    if off:
        parts.append("off: " + ", ".join(off))
    return ("\n".join(fixes) or "(no fixes)"), ("; ".join(parts) or "(none)")
