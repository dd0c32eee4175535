"""`harness plugins` lists every plugin; `--without NAME` switches one off in every variant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.core.pluginmanager import builtin_plugins
from harness.scenario import ScenarioError, load_scenario

SCENARIO = """\
name: overrides
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu}
plugins:
  grad_clip: {max_norm: 0.5}
variants:
  a:
    plugins: {class_weights: true}
  b:
    plugins: {class_weights: {label_smoothing: 0.1}, linear_warmup: true}
"""


@pytest.fixture()
def scenario_path(tmp_path: Path) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(SCENARIO)
    return path


def test_plugins_json_lists_every_builtin_with_source_hooks_and_parameters() -> None:
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.output)}
    builtin_modules = set(builtin_plugins())
    assert {entry["module"] for entry in listed.values() if entry["source"] == "harness (built-in)"} >= builtin_modules
    clip = listed["grad_clip"]
    assert clip["kind"] == "fix" and clip["enabled_by_default"] is False
    assert clip["hooks"] == ["on_before_optimizer_step"]
    assert clip["parameters"]["max_norm"]["default"] == 1.0
    assert clip["summary"].startswith("Gradient clipping")
    assert listed["prediction_distribution"]["finding_kinds"] == ["collapse", "near_collapse"]
    assert listed["prediction_distribution"]["enabled_by_default"] is True
    # the conflict rule's declarations: the slots each competes for, what it replaces
    assert clip["slots"] == [] and listed["linear_warmup"]["slots"] == ["make_scheduler"]
    assert listed["class_weights"]["replaces"] == ["sample_weighted_loss"]
    assert listed["two_stage"]["slots"] == ["make_scheduler", "param_groups"]


def test_plugins_table_names_the_source() -> None:
    result = CliRunner().invoke(main, ["plugins"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "harness (built-in)" in result.output and "class_weights" in result.output


def test_without_switches_a_plugin_off_in_every_variant(scenario_path: Path) -> None:
    plain = load_scenario(scenario_path)
    assert all("grad_clip" in v.plugins and "class_weights" in v.plugins for v in plain.variants.values())
    off = load_scenario(scenario_path, plugin_overrides={"class_weights": False, "prediction_distribution": False})
    for variant in off.variants.values():
        assert "class_weights" not in variant.plugins and "prediction_distribution" not in variant.plugins
        assert variant.plugins["grad_clip"].max_norm == 0.5  # everything else untouched
    assert "linear_warmup" in off.variants["b"].plugins


def test_with_override_keeps_the_variants_own_parameters(scenario_path: Path) -> None:
    on = load_scenario(scenario_path, plugin_overrides={"grad_clip": {"max_value": 2.0}})
    clip = on.variants["a"].plugins["grad_clip"]
    assert (clip.max_norm, clip.max_value) == (0.5, 2.0)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("class_weight", "--without class_weight: unknown plugin 'class_weight' (did you mean 'class_weights'?)"),
        ("defaults", "--without defaults: plugin 'defaults' is part of the core and cannot be switched off"),
    ],
)
def test_without_rejects_unknown_and_core_plugins(scenario_path: Path, name: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_scenario(scenario_path, plugin_overrides={name: False})
    result = CliRunner().invoke(main, ["run", str(scenario_path), "--without", name, "-q"])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


@pytest.mark.slow
def test_run_without_records_the_plugin_off(scenario_path: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(scenario_path),
            "-q",
            "--variant",
            "a",
            "--without",
            "class_weights",
            "--json",
            str(report),
            "--results-dir",
            str(tmp_path / "results"),
        ],
    )
    assert result.exit_code == 0, result.output
    [run] = json.loads(report.read_text())["runs"]
    assert "class_weights" not in run["plugins"] and "grad_clip" in run["plugins"]
    assert "class_weights" not in run["trace"].get("make_criterion", {})
