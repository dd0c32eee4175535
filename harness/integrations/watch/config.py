"""Which plugins a watched run has: the defaults, less what watch replaces, with the user's settings.

Torch-free, so ``harness watch`` checks ``--with``/``--without``/``--set`` before it starts the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.core.findings import declared_kinds
from harness.core.plugin import Plugin
from harness.core.pluginmanager import PluginInfo
from harness.scenario.arms import catalogue
from harness.scenario.params import UnknownPluginError, apply_setting, default_settings, layered_params

from .rules import WATCH_RULES


class WatchError(ValueError):
    """A plugin or setting that watch mode cannot apply."""


def available_plugins(extra: tuple[type[Plugin], ...] = ()) -> dict[str, PluginInfo]:
    """Every installed plugin, the watch-only rules and ``extra`` plugin classes."""
    available = dict(catalogue())
    for cls in (*WATCH_RULES, *extra):
        available[cls.name] = PluginInfo(cls.name, cls, "watch" if cls in WATCH_RULES else "extra")
    return available


def resolve_watch_plugins(available: Mapping[str, PluginInfo], requested: Mapping[str, Any]) -> dict[str, Any]:
    """The enabled monitors: the defaults, less those a watch rule replaces, with their ``watch_params``
    and ``requested`` layered on (``--set loss_explosion.max_loss=100`` switches a threshold back on).

    :raises WatchError: an unknown plugin, or a fix/bug plugin (watch mode only observes).
    """
    settings = default_settings(available)
    for rule in WATCH_RULES:  # a monitor whose signal assumes the harness loop's order, observed by a rule
        for name in rule.replaces:
            settings.pop(name, None)
    for name, info in available.items():  # a script's loss scale is its own: absolute thresholds off
        if info.cls.watch_params and name in settings:
            apply_setting(settings, available, name, dict(info.cls.watch_params), keep_core=False)
    for name, value in requested.items():
        chosen = available.get(name)
        if chosen is not None and value is not False and chosen.kind not in ("monitor", "core"):
            raise WatchError(
                f"plugin {name!r} is a {chosen.kind}: watch mode only observes the script's own training, "
                "so only monitors can be switched on"
            )
    try:
        return layered_params(available, requested, base=settings)
    except UnknownPluginError as exc:
        raise WatchError(f"unknown plugin {exc.name!r}; installed: {', '.join(sorted(available))}") from None


def watched_kinds(available: Mapping[str, PluginInfo] | None = None) -> frozenset[str]:
    """Every finding kind a watched run can record: the installed monitors' and rules' kinds, and
    ``error`` (a monitor that failed and was switched off)."""
    return frozenset(declared_kinds(available or available_plugins())) | {"error"}
