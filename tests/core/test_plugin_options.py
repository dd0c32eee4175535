"""`--with`, `--set` (and `--without`) derive variants ad hoc, validated exactly like the YAML;
`pass_rate:` entries are validated like every other field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.scenario import ScenarioError, load_scenario, parse_plugin_options

SCENARIO = """\
name: options
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu}
variants:
  broken:
    plugins: {linear_warmup: {interval: epoch}}
  fixed:
    plugins: {class_weights: {label_smoothing: 0.1}, linear_warmup: {interval: step}, grad_clip: {max_norm: 0.5}}
    expect:
      - {expect: "final.f1 >= 0.5", pass_rate: ">= 0.8"}
      - status == ok
"""


@pytest.fixture()
def path(tmp_path: Path) -> Path:
    p = tmp_path / "options.yaml"
    p.write_text(SCENARIO)
    return p


def test_parse_plugin_options() -> None:
    assert parse_plugin_options(
        ("class_weights",),
        ("collapse_stop",),
        ("grad_clip.max_norm=0.25", "grad_clip.max_value=null", "linear_warmup.interval=epoch"),
    ) == {
        "collapse_stop": False,
        "class_weights": True,
        "grad_clip": {"max_norm": 0.25, "max_value": None},
        "linear_warmup": {"interval": "epoch"},
    }
    for bad in ("grad_clip", "grad_clip=1", "=1", ".x=1"):
        with pytest.raises(ValueError, match="expected PLUGIN.PARAM=VALUE"):
            parse_plugin_options(sets=(bad,))
    with pytest.raises(ValueError, match="contradict"):
        parse_plugin_options(with_=("grad_clip",), without=("grad_clip",))
    with pytest.raises(ValueError, match="contradict"):
        parse_plugin_options(without=("grad_clip",), sets=("grad_clip.max_norm=1",))


def test_with_and_set_combine_with_without_on_one_variant(path: Path) -> None:
    sc = load_scenario(
        path,
        plugin_overrides=parse_plugin_options(
            ("mixed_precision",), ("class_weights",), ("grad_clip.max_norm=0.25", "linear_warmup.interval=epoch")
        ),
    )
    fixed = sc.variants["fixed"].plugins
    assert "class_weights" not in fixed and "mixed_precision" in fixed
    assert (fixed["grad_clip"].max_norm, fixed["linear_warmup"].interval) == (0.25, "epoch")
    broken = sc.variants["broken"].plugins
    assert broken["grad_clip"].max_norm == 0.25  # --set switches the plugin on where it was off, as YAML would
    # --with keeps a variant's own parameters
    sc = load_scenario(path, plugin_overrides=parse_plugin_options(("class_weights",)))
    assert sc.variants["fixed"].plugins["class_weights"].label_smoothing == 0.1
    assert sc.variants["broken"].plugins["class_weights"].label_smoothing == 0.05


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "grad_clip.max_nrom=1"],
            "--set grad_clip.max_nrom: unknown parameter 'max_nrom' of plugin 'grad_clip' (did you mean 'max_norm'?)",
        ),
        (["--set", "grad_clip.max_norm=abc"], "--set grad_clip.max_norm: Input should be a valid number"),
        (["--set", "linear_warmup.interval=week"], "--set linear_warmup.interval: Input should be 'step' or 'epoch'"),
        (
            ["--with", "class_weight"],
            "--with class_weight: unknown plugin 'class_weight' (did you mean 'class_weights'?)",
        ),
        (["--set", "grad_clp.max_norm=1"], "--set grad_clp: unknown plugin 'grad_clp' (did you mean 'grad_clip'?)"),
        (["--set", "grad_clip"], "expected PLUGIN.PARAM=VALUE"),
        (["--with", "grad_clip", "--without", "grad_clip"], "contradict each other"),
        (["--seed", "1", "--seeds", "3"], "either --seed S (repeatable) or --seeds N"),
    ],
)
def test_bad_options_exit_2_with_the_closest_name(path: Path, args: list[str], message: str) -> None:
    for command in (["run"], ["ablate"]):
        result = CliRunner().invoke(main, [*command, str(path), "-q", *args])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split())
        assert "Traceback" not in result.output


def test_ablate_checks_base_and_target(path: Path) -> None:
    result = CliRunner().invoke(main, ["ablate", str(path), "--target", "fixd"])
    assert result.exit_code == 2 and "--target: unknown variant 'fixd' (did you mean 'fixed'?)" in result.output
    result = CliRunner().invoke(main, ["ablate", str(path), "--pass-rate", "most"])
    assert result.exit_code == 2 and "--pass-rate: invalid pass_rate 'most'" in " ".join(result.output.split())
    result = CliRunner().invoke(main, ["ablate", str(path), "--base", "fixed", "--target", "fixed"])
    assert result.exit_code == 2


def test_pass_rate_is_parsed_and_recorded(path: Path) -> None:
    from harness.scenario.expectations import evaluate_all

    exps = load_scenario(path).variants["fixed"].expectations
    assert exps[0].pass_rate is not None and exps[0].pass_rate.text == ">= 0.8" and exps[1].pass_rate is None
    run = {"status": "ok", "history": [{"epoch": 1, "f1": 0.4}]}
    assert evaluate_all(exps, run, "2.13.0") == [
        {"name": "final.f1 >= 0.5", "passed": False, "observed": 0.4, "pass_rate": ">= 0.8"},
        {"name": "status == ok", "passed": True, "observed": "ok"},
    ]


@pytest.mark.parametrize(
    ("rate", "message"),
    [("'most'", "invalid pass_rate 'most'"), ("'>= 1.2'", "between 0 and 1"), ("[0.8]", "pass_rate")],
)
def test_bad_pass_rate_in_yaml_names_file_line_and_field(path: Path, rate: str, message: str) -> None:
    path.write_text(SCENARIO.replace('pass_rate: ">= 0.8"', f"pass_rate: {rate}"))
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        load_scenario(path)
    assert info.value.line == 13
    assert info.value.field.startswith("variants.fixed.expect[0]")


def test_unknown_key_in_expectation_mapping_suggests_pass_rate(path: Path) -> None:
    path.write_text(SCENARIO.replace("pass_rate:", "passrate:"))
    with pytest.raises(ScenarioError, match="did you mean 'pass_rate'"):
        load_scenario(path)
