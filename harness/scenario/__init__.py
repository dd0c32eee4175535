"""Scenario input: YAML -> a validated, resolved :class:`Scenario`, every problem at once.

``schema`` (the pydantic models and the resolved Scenario/Variant), ``yaml_source``
(safe YAML with positions), ``errors`` (:class:`ScenarioError`), ``validation`` (schema
errors made readable), ``overrides`` (``--with``/``--without``/``--set``), ``params``
(plugin parameters: the one resolver and its error wording), ``expectations`` (the
expectation language), ``entries`` (a judged line, as a run record keeps it) and
``loading`` (:func:`load_scenario`, which ties them together).
"""

from harness.scenario.errors import MAX_ERRORS, ScenarioError
from harness.scenario.loading import load_scenario
from harness.scenario.overrides import parse_plugin_options
from harness.scenario.schema import Scenario, TrainConfig, Variant
from harness.scenario.yaml_source import locate, read_yaml

__all__ = [
    "MAX_ERRORS",
    "Scenario",
    "ScenarioError",
    "TrainConfig",
    "Variant",
    "load_scenario",
    "locate",
    "parse_plugin_options",
    "read_yaml",
]
