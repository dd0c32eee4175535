"""Command-line overrides (--with/--without/--set) applied on top of a scenario's variants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.scenario.errors import ScenarioError
from harness.scenario.params import SettingError, apply_setting, params_errors, resolve_params
from harness.scenario.schema import TrainConfig
from harness.scenario.train_fields import train_error_message
from harness.scenario.yaml_source import _Problems


def _split_overrides(problems: _Problems, overrides: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plugin overrides, train overrides)`` of :func:`load_scenario`'s ``plugin_overrides``."""
    plugin_overrides = dict(overrides or {})
    train_overrides = plugin_overrides.pop(TRAIN_OVERRIDE, None) or {}
    if not isinstance(train_overrides, dict):
        problems.report(ScenarioError(problems.path, "--set train", "expected --set train.FIELD=VALUE"))
        train_overrides = {}
    return plugin_overrides, train_overrides


def _apply_overrides(
    path: Path, available: dict[str, Any], enabled: dict[str, BaseModel], overrides: dict[str, Any]
) -> dict[str, BaseModel]:
    """``enabled`` with command-line plugin overrides applied (errors name the option)."""
    enabled = dict(enabled)
    for name, value in overrides.items():
        option = {False: "--without", True: "--with"}.get(value, "--set") if isinstance(value, bool) else "--set"
        settings: dict[str, dict[str, Any] | None] = (
            {name: enabled[name].model_dump(exclude_unset=True)} if name in enabled else {}
        )
        try:
            apply_setting(settings, available, name, value)
        except SettingError as exc:
            raise ScenarioError(path, f"{option} {name}", str(exc)) from None
        if settings[name] is None:
            enabled.pop(name, None)
            continue
        try:
            enabled[name] = resolve_params(available, settings)[name]
        except ValidationError as exc:
            loc, message = params_errors(name, available[name].cls.Params, exc)[0]
            param = ".".join(str(p) for p in loc)
            raise ScenarioError(path, f"{option} {name}.{param}" if param else f"{option} {name}", message) from None
    return enabled


TRAIN_OVERRIDE = "train"  # ``--set train.FIELD=VALUE`` sets a training field, not a plugin parameter


def _apply_train_overrides(path: Path, train: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """``train`` with ``--set train.FIELD=VALUE`` applied (errors name the option)."""
    try:
        return TrainConfig.model_validate(train.model_dump() | overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_name = ".".join(str(p) for p in err["loc"])
        message = train_error_message(err, "training field")
        raise ScenarioError(path, f"--set train.{field_name}", message) from None


def parse_plugin_options(
    with_: tuple[str, ...] = (), without: tuple[str, ...] = (), sets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``--with``/``--without``/``--set`` as ``plugin_overrides`` for :func:`load_scenario`.

    ``--with NAME`` is ``{NAME: true}``, ``--without NAME`` ``{NAME: false}`` and
    ``--set NAME.PARAM=VALUE`` ``{NAME: {PARAM: VALUE}}`` (VALUE read as YAML: ``0.1``,
    ``true``, ``null``, ``step``); several ``--set`` of one plugin merge.
    ``--set train.FIELD=VALUE`` sets a training field (``{"train": {FIELD: VALUE}}``). Plugin and
    parameter names are checked by :func:`load_scenario`, like the YAML's. Raises
    ``ValueError`` for a malformed ``--set`` or a plugin both switched on and off.
    """
    if TRAIN_OVERRIDE in with_ or TRAIN_OVERRIDE in without:
        raise ValueError(f"'{TRAIN_OVERRIDE}' is not a plugin: use --set train.FIELD=VALUE")
    overrides: dict[str, Any] = {name: False for name in without}
    for name in with_:
        if overrides.get(name) is False:
            raise ValueError(f"--with {name} and --without {name} contradict each other")
        overrides[name] = True
    for item in sets:
        target, eq, raw = item.partition("=")
        name, dot, param = target.strip().partition(".")
        if not (eq and dot and name and param):
            raise ValueError(
                f"--set {item}: expected PLUGIN.PARAM=VALUE or train.FIELD=VALUE, e.g. --set grad_clip.max_norm=0.5"
            )
        if overrides.get(name) is False:
            raise ValueError(f"--set {item} and --without {name} contradict each other")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        previous = overrides.get(name)
        overrides[name] = {**(previous if isinstance(previous, dict) else {}), param: value}
    return overrides
