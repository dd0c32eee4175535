"""Plugin settings into validated ``Params``: the one resolver, and the one wording of its errors.

A plugin is set the way a scenario's ``plugins:`` sets it: ``true`` (or ``{}``/null) switches
it on with its defaults, ``false`` off, a mapping on with those parameters. Scenarios (YAML
and ``--with/--without/--set``), :mod:`harness.testing` and the Trainer adapter all start
from :func:`default_settings`, layer their entries over it with :func:`apply_setting` and
validate with :func:`validate_settings`, so a setting means the same wherever it is written.

Pydantic's errors are worded here too (:func:`error_message`): an unknown key is named with
the closest known one (``unknown field 'lrr' (did you mean 'lr'?)``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core.resolver import closest

#: one plugin's parameters (merged over its defaults); None: switched off
Setting = dict[str, Any] | None


def unknown_key(key: str, known: Iterable[str], what: str = "field", of: str = "") -> str:
    """``unknown field 'lrr' (did you mean 'lr'?)``: ``of`` names the owner (`` of plugin 'x'``)."""
    return f"unknown {what} {key!r}{of}{closest(key, list(known))}"


def error_message(err: Mapping[str, Any], known: Iterable[str] = (), what: str = "field", of: str = "") -> str:
    """One pydantic error as text: its own message, or :func:`unknown_key` for a key the model forbids."""
    if err["type"] != "extra_forbidden":
        return str(err["msg"])
    return unknown_key(str(err["loc"][-1]), known, what, of)


def params_errors(name: str, params_model: type[BaseModel], exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """``(location inside the Params, message)`` per error of plugin ``name``'s parameters."""
    of = f" of plugin {name!r}"
    return [(tuple(err["loc"]), error_message(err, params_model.model_fields, "parameter", of)) for err in exc.errors()]


class SettingError(ValueError):
    """A plugin entry that cannot be applied: the core switched off (or, a subclass, an unknown plugin)."""


class UnknownPluginError(SettingError):
    """A plugin name that is not among the available plugins."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name, self.available = name, list(available)
        super().__init__(f"unknown plugin {name!r}{closest(name, self.available)}")


def plugin_setting(value: Any) -> Setting:
    """A YAML plugin entry as params (None: switched off). ``true``/``{}``/null: defaults."""
    if value is False:
        return None
    if value is True or value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError("expected true, false or a mapping of parameters")


def default_settings(available: Mapping[str, Any], *, monitors: bool = True) -> dict[str, Setting]:
    """``{}`` (its defaults) for every plugin on unless switched off: the core, and (``monitors``)
    the monitors on by default (an opt-in one such as ``memory`` is not)."""
    return {
        name: {} for name, info in available.items() if info.cls.default_enabled() and (monitors or info.kind == "core")
    }


def apply_setting(
    settings: dict[str, Setting], available: Mapping[str, Any], name: str, value: Any, *, keep_core: bool = True
) -> None:
    """Layer one entry over ``settings``: parameters merge into those set before, ``false`` switches off.

    :param keep_core: refuse to switch the core off (a scenario); the test helpers may.
    :raises UnknownPluginError: ``name`` is not among ``available``.
    :raises TypeError: ``value`` is neither a bool, null nor a mapping.
    :raises SettingError: the core switched off while ``keep_core``.
    """
    if name not in available:
        raise UnknownPluginError(name, available)
    setting = plugin_setting(value)
    if setting is None and keep_core and available[name].kind == "core":
        raise SettingError(f"plugin {name!r} is part of the core and cannot be switched off")
    previous = settings.get(name)
    settings[name] = None if setting is None else {**(previous or {}), **setting}


def layered_params(
    available: Mapping[str, Any],
    requested: Mapping[str, Any],
    *,
    base: dict[str, Setting] | None = None,
    monitors: bool = True,
) -> dict[str, BaseModel]:
    """The one resolver of plugin settings outside a scenario (watch, the Trainer callback, the
    test helpers): ``base`` (default: :func:`default_settings`) with each ``requested`` entry
    layered over it (:func:`apply_setting`, the core may be switched off), validated.

    :raises UnknownPluginError: a requested name that is not among ``available``.
    :raises pydantic.ValidationError: invalid parameters.
    """
    settings = default_settings(available, monitors=monitors) if base is None else base
    for name, value in requested.items():
        apply_setting(settings, available, name, value, keep_core=False)
    return resolve_params(available, settings)


def validate_settings(
    available: Mapping[str, Any], settings: Mapping[str, Setting]
) -> tuple[dict[str, BaseModel], dict[str, ValidationError]]:
    """``(enabled, refused)``: the validated Params of every plugin ``settings`` switches on, and
    the pydantic error of each whose parameters are invalid."""
    enabled: dict[str, BaseModel] = {}
    refused: dict[str, ValidationError] = {}
    for name, setting in settings.items():
        if setting is None:
            continue
        try:
            enabled[name] = available[name].cls.Params.model_validate(setting)
        except ValidationError as exc:
            refused[name] = exc
    return enabled, refused


def resolve_params(available: Mapping[str, Any], settings: Mapping[str, Setting]) -> dict[str, BaseModel]:
    """:func:`validate_settings`'s enabled plugins; raises the first refused one's ``ValidationError``."""
    enabled, refused = validate_settings(available, settings)
    for exc in refused.values():
        raise exc
    return enabled
