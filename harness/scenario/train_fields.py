"""A ``train`` field's error, worded: a plugin's name used as a training field points at the plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from harness.scenario.params import error_message


def train_error_message(err: Mapping[str, Any], what: str = "field") -> str:
    """A ``train`` field's error; a plugin's name used as a training field (``train: {optimizer: sgd}``)
    is answered with that plugin's entry (``plugins: {optimizer: {name: sgd}}``)."""
    from harness.scenario.schema import TrainConfig

    key = str(err["loc"][-1]) if err["loc"] else ""
    if err["type"] == "extra_forbidden" and key in _plugin_names():
        example = _plugin_example(key, err.get("input"))
        return f"unknown {what} {key!r}: did you mean the {key!r} plugin: plugins: {example}"
    return error_message(err, TrainConfig.model_fields, what)


def _plugin_names() -> set[str]:
    from harness.scenario.arms import catalogue

    return set(catalogue())


def _plugin_example(name: str, value: Any) -> str:
    """``{optimizer: {name: sgd}}``: the value set under the plugin's first parameter it fits."""
    from harness.scenario.arms import catalogue

    if value is None or isinstance(value, (dict, list)):
        return f"{{{name}: true}}"
    params = catalogue()[name].cls.Params
    for field in params.model_fields:
        try:
            params.model_validate({field: value})
        except ValidationError:
            continue
        return f"{{{name}: {{{field}: {value}}}}}"
    return f"{{{name}: true}}"
