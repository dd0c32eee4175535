"""Deriving an arm: a variant with some plugins changed, validated as the YAML's plugins are.

Ablation, the doctor and the pytest plugin build every arm through
:meth:`harness.scenario.Scenario.derive`, so an arm's parameters mean what they mean in a
scenario file and two plugins in one slot are refused the same way. Validated ``Params``
are kept as they are (never dumped and re-validated); a mapping is validated like a YAML
entry; ``None``/``False`` switches a plugin off.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from harness.core.pluginmanager import PluginInfo

#: what a change sets a plugin to: its validated Params, YAML-style parameters, or off
PluginChange = BaseModel | Mapping[str, Any] | bool | None


def catalogue(plugin_modules: tuple[str, ...] = ()) -> Mapping[str, PluginInfo]:
    """Every plugin a scenario may use (built-ins, entry points, its ``plugin_modules``),
    discovered once per process for each set of installed entry points, read-only."""
    from harness.core.pluginmanager import ENTRY_POINT_GROUP
    from harness.core.resolver import entry_points

    installed = tuple((e.name, e.target, e.source) for e in entry_points(ENTRY_POINT_GROUP))
    return _catalogue(tuple(plugin_modules), installed)


@functools.cache
def _catalogue(
    plugin_modules: tuple[str, ...], installed: tuple[tuple[str, str, str], ...]
) -> Mapping[str, PluginInfo]:
    from harness.core.pluginmanager import discover_plugins

    return MappingProxyType(discover_plugins(plugin_modules))


def derive_plugins(
    available: Mapping[str, Any], plugins: Mapping[str, BaseModel], changes: Mapping[str, PluginChange], *, label: str
) -> dict[str, BaseModel]:
    """``plugins`` with ``changes`` applied, each validated; refuses slot conflicts.

    :raises pydantic.ValidationError: a changed plugin's parameters are invalid.
    :raises harness.core.pluginmanager.PluginConflictError: two enabled plugins share a slot
        (the message starts with ``label``, which names the arm).
    """
    from harness.core.pluginmanager import PluginConflictError, resolve_conflicts
    from harness.scenario.params import plugin_setting, resolve_params

    out = dict(plugins)
    for name, change in changes.items():
        if change is None or change is False:
            out.pop(name, None)
        elif isinstance(change, BaseModel):
            out[name] = change
        else:
            out[name] = resolve_params(
                available, {name: plugin_setting(dict(change) if isinstance(change, Mapping) else change)}
            )[name]
    try:
        resolve_conflicts(available, out)
    except PluginConflictError as exc:
        raise PluginConflictError(exc.plugins, exc.slot, f"{label}: {exc}") from None
    return out


def script_fixes(available: Mapping[str, Any], enabled: dict[str, BaseModel]) -> dict[str, dict[str, Any]]:
    """The fixes of a variant's enabled plugins that the watcher applies to its program: name -> params."""
    return {
        name: params.model_dump(mode="json")
        for name, params in enabled.items()
        if available[name].kind == "fix" and available[name].cls.acts_on_scripts
    }


def script_arm_fixes(
    available: Mapping[str, Any], enabled: dict[str, BaseModel], label: str
) -> dict[str, dict[str, Any]]:
    """An arm's fixes on a script (:func:`script_fixes`), after refusing any fix or bug the watcher
    cannot apply to a running program (:raises ValueError: naming it and the arm ``label``)."""
    refused = sorted(n for n in enabled if available[n].kind in ("fix", "bug") and not available[n].cls.acts_on_scripts)
    if refused:
        raise ValueError(f"{label}: {', '.join(refused)} cannot act on a running script")
    return script_fixes(available, enabled)
