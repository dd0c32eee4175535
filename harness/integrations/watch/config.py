"""Which plugins a watched run has: the defaults, less what watch replaces, with the user's settings.

Torch-free, so ``harness watch`` checks ``--with``/``--without``/``--set`` before it starts the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.core.plugin import Plugin
from harness.core.pluginmanager import PluginInfo
from harness.scenario.arms import catalogue
from harness.scenario.params import UnknownPluginError, apply_setting, default_settings, resolve_params

from .rules import WATCH_RULES

#: monitors whose signal assumes the harness loop's order (gradients zeroed right after each
#: step): off in watch mode, where a watch rule observes the same pathology
REPLACED_IN_WATCH = {"stale_gradients": "watch_zero_grad"}


#: monitor parameters that differ in watch mode: a script's loss scale is its own (a summed
#: reconstruction loss starts above 1000), so the absolute thresholds tuned on scenarios are off
#: and only the rules relative to the run's own start judge (10x the start loss, 100x the early
#: gradient norm); ``--set loss_explosion.max_loss=100`` switches one back on
WATCH_DEFAULTS: dict[str, dict[str, Any]] = {"loss_explosion": {"max_loss": None}, "grad_health": {"max_norm": None}}


class WatchError(ValueError):
    """A plugin or setting that watch mode cannot apply."""


def available_plugins(extra: tuple[type[Plugin], ...] = ()) -> dict[str, PluginInfo]:
    """Every installed plugin, the watch-only rules and ``extra`` plugin classes."""
    available = dict(catalogue())
    for cls in (*WATCH_RULES, *extra):
        available[cls.name] = PluginInfo(cls.name, cls, "watch" if cls in WATCH_RULES else "extra")
    return available


def resolve_watch_plugins(available: Mapping[str, PluginInfo], requested: Mapping[str, Any]) -> dict[str, Any]:
    """The enabled monitors: the defaults, less those watch replaces, with ``requested`` layered on.

    :raises WatchError: an unknown plugin, or a fix/bug plugin (watch mode only observes).
    """
    settings = default_settings(available)
    for name in REPLACED_IN_WATCH:
        settings.pop(name, None)
    for name, params in WATCH_DEFAULTS.items():
        if name in settings:
            apply_setting(settings, available, name, dict(params), keep_core=False)
    for name, value in requested.items():
        try:
            apply_setting(settings, available, name, value, keep_core=False)
        except UnknownPluginError:
            raise WatchError(f"unknown plugin {name!r}; installed: {', '.join(sorted(available))}") from None
        info = available[name]
        if value is not False and info.kind not in ("monitor", "core"):
            raise WatchError(
                f"plugin {name!r} is a {info.kind}: watch mode only observes the script's own training, "
                "so only monitors can be switched on"
            )
    return resolve_params(available, settings)
