"""The one plugin-params resolver (harness.scenario.params): layering, validation and the error wording."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.core.pluginmanager import discover_plugins
from harness.scenario.params import (
    SettingError,
    UnknownPluginError,
    apply_setting,
    default_settings,
    error_message,
    params_errors,
    plugin_setting,
    resolve_params,
    unknown_key,
    validate_settings,
)


@pytest.fixture(scope="module")
def available() -> dict:
    return discover_plugins()


def test_yaml_entries_become_settings() -> None:
    assert plugin_setting(True) == {} and plugin_setting(None) == {} and plugin_setting(False) is None
    assert plugin_setting({"max_norm": 1.0}) == {"max_norm": 1.0}
    with pytest.raises(TypeError, match="expected true, false or a mapping"):
        plugin_setting("yes")


def test_defaults_are_the_core_and_the_default_monitors(available: dict) -> None:
    on = default_settings(available)
    assert "defaults" in on and "prediction_distribution" in on
    assert "memory" not in on and "grad_clip" not in on  # opt-in monitor, a fix
    assert set(default_settings(available, monitors=False)) == {n for n, i in available.items() if i.kind == "core"}


def test_layers_merge_parameters_and_false_switches_off(available: dict) -> None:
    settings = default_settings(available)
    apply_setting(settings, available, "grad_clip", {"max_norm": 0.5})
    apply_setting(settings, available, "grad_clip", {"max_value": 2.0})
    assert settings["grad_clip"] == {"max_norm": 0.5, "max_value": 2.0}
    apply_setting(settings, available, "prediction_distribution", False)
    enabled = resolve_params(available, settings)
    assert "prediction_distribution" not in enabled
    assert enabled["grad_clip"].max_norm == 0.5 and enabled["grad_clip"].max_value == 2.0


def test_unknown_plugins_and_the_core_switched_off_are_refused(available: dict) -> None:
    with pytest.raises(UnknownPluginError, match=r"unknown plugin 'grad_clp' \(did you mean 'grad_clip'\?\)"):
        apply_setting({}, available, "grad_clp", True)
    with pytest.raises(SettingError, match="'defaults' is part of the core and cannot be switched off"):
        apply_setting({}, available, "defaults", False)
    settings = {"defaults": {}}
    apply_setting(settings, available, "defaults", False, keep_core=False)  # the test helpers may
    assert settings["defaults"] is None


def test_invalid_params_are_collected_per_plugin_and_worded_once(available: dict) -> None:
    settings = {"grad_clip": {"max_nrom": 1.0}, "linear_warmup": {}}
    enabled, refused = validate_settings(available, settings)
    assert set(enabled) == {"linear_warmup"} and set(refused) == {"grad_clip"}
    (loc, message), *_ = params_errors("grad_clip", available["grad_clip"].cls.Params, refused["grad_clip"])
    assert loc == ("max_nrom",)
    assert message == "unknown parameter 'max_nrom' of plugin 'grad_clip' (did you mean 'max_norm'?)"
    with pytest.raises(ValidationError):
        resolve_params(available, settings)


def test_error_message_keeps_pydantic_text_except_for_unknown_keys() -> None:
    assert error_message({"type": "greater_than", "loc": ("lr",), "msg": "Input should be greater than 0"}) == (
        "Input should be greater than 0"
    )
    extra = {"type": "extra_forbidden", "loc": ("train", "lrr"), "msg": "Extra inputs are not permitted"}
    assert error_message(extra, ["lr", "epochs"]) == "unknown field 'lrr' (did you mean 'lr'?)"
    assert (
        unknown_key("epoks", ["epochs"], "training field") == "unknown training field 'epoks' (did you mean 'epochs'?)"
    )
