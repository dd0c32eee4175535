"""The one way an arm is derived (Scenario.derive) and scenarios loaded from data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from harness.core.pluginmanager import PluginConflictError
from harness.scenario import ScenarioError, load_scenario
from harness.scenario.arms import catalogue

ISSUE11 = Path(__file__).resolve().parents[2] / "scenarios" / "issue11.yaml"


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return load_scenario(ISSUE11)


def test_validated_params_are_kept_as_they_are_and_off_removes(scenario) -> None:  # type: ignore[no-untyped-def]
    fixed = scenario.variants["fixed"]
    arm = scenario.derive("broken", "broken+fixes", dict(fixed.plugins), description="d")
    for name, params in fixed.plugins.items():
        assert arm.plugins[name] is params  # no dump and re-validation
    off = scenario.derive("fixed", "fixed-warmup", {"linear_warmup": None}, description="d")
    assert "linear_warmup" not in off.plugins
    assert off.train == fixed.train and off.expectations == fixed.expectations


def test_a_mapping_is_validated_like_a_yaml_entry(scenario) -> None:  # type: ignore[no-untyped-def]
    arm = scenario.derive("broken", "clipped", {"grad_clip": {"max_norm": 0.5}}, description="d", expectations=[])
    assert arm.plugins["grad_clip"].max_norm == 0.5 and arm.expectations == []
    with pytest.raises(ValidationError, match="max_nrm"):
        scenario.derive("broken", "bad", {"grad_clip": {"max_nrm": 0.5}}, description="d")


def test_two_plugins_in_one_slot_are_refused_naming_the_arm(scenario) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PluginConflictError, match=r"^arm 'two schedules': .*warmup_cosine"):
        scenario.derive("fixed", "two schedules", {"warmup_cosine": True, "linear_warmup": True}, description="d")


def test_only_starts_from_no_plugins_and_the_catalogue_is_found_once(scenario) -> None:  # type: ignore[no-untyped-def]
    arm = scenario.derive("broken", "plain", {"defaults": True}, description="d", only=True)
    assert list(arm.plugins) == ["defaults"]
    assert scenario.catalogue is catalogue(()) is catalogue()


def test_a_scenario_loads_from_parsed_data_exactly_as_from_its_file() -> None:
    data = yaml.safe_load(ISSUE11.read_text())
    from_data, from_file = load_scenario(data), load_scenario(ISSUE11)
    assert from_data.variants == from_file.variants and from_data.name == from_file.name
    data["workload"]["params"] = {"hiden": 3}
    with pytest.raises(ScenarioError, match=r"^<scenario data>: workload\.params\.hiden: unknown field 'hiden'"):
        load_scenario(data)
