"""A bad scenario gets one message naming the file, line and field; nothing trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.scenario import ScenarioError, load_scenario

GOOD = """\
name: demo
workload:
  name: devign
  params: {n_train: 64}
train:
  epochs: 2
variants:
  broken:
    plugins:
      linear_warmup: {interval: epoch}
    expect:
      - final.f1 <= 0.05
  fixed:
    plugins:
      class_weights: true
      linear_warmup: {interval: step}
    expect:
      - final.f1 >= 0.8
      - {expect: "status == ok", when: {torch: ">=2.0"}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_good_scenario_resolves(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD))
    assert list(sc.variants) == ["broken", "fixed"]
    fixed = sc.variants["fixed"]
    from harness.core.pluginmanager import discover_plugins

    monitors = {n for n, info in discover_plugins().items() if info.kind == "monitor" and info.cls.default_enabled()}
    assert set(fixed.plugins) == {"defaults", "class_weights", "linear_warmup"} | monitors
    assert fixed.plugins["class_weights"].label_smoothing == 0.05
    assert sc.variants["broken"].plugins["linear_warmup"].interval == "epoch"
    assert fixed.train.epochs == 2 and sc.workload_params.n_train == 64
    assert [e.text for e in fixed.expectations] == ["final.f1 >= 0.8", "status == ok"]


def test_monitor_can_be_switched_off(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, GOOD.replace("class_weights: true", "prediction_distribution: false")))
    assert "prediction_distribution" not in sc.variants["fixed"].plugins


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "class_weights: true",
            "class_weight: true",
            "s.yaml:15:7: variants.fixed.plugins.class_weight: unknown plugin 'class_weight' (did you mean 'class_weights'?)",
        ),
        (
            "{interval: epoch}",
            "{interval: weekly}",
            "s.yaml:10:23: variants.broken.plugins.linear_warmup.interval: Input should be 'step' or 'epoch'",
        ),
        (
            "{interval: epoch}",
            "{intervall: epoch}",
            "unknown parameter 'intervall' of plugin 'linear_warmup' (did you mean 'interval'?)",
        ),
        ("  epochs: 2", "  epochs: -1", "s.yaml:6:3: train.epochs: Input should be greater than 0"),
        ("  epochs: 2", "  epoch: 2", "s.yaml:6:3: train.epoch: unknown field 'epoch' (did you mean 'epochs'?)"),
        (
            "  epochs: 2",
            "  optimizer: sgd",
            "train.optimizer: unknown field 'optimizer': did you mean the 'optimizer' plugin: "
            "plugins: {optimizer: {name: sgd}}",
        ),
        (
            "name: devign",
            "name: devine",
            "s.yaml:3:3: workload.name: unknown workload 'devine' (did you mean 'devign'?)",
        ),
        (
            "{n_train: 64}",
            "{n_trian: 64}",
            "workload.params.n_trian: unknown field 'n_trian' (did you mean 'n_train'?)",
        ),
        (
            "- final.f1 <= 0.05",
            "- final.f1 <== 0.05",
            "s.yaml:12:9: variants.broken.expect[0]: cannot parse expectation",
        ),
        ("- final.f1 >= 0.8", "- final.fone >= 0.8", "variants.fixed.expect[0]: unknown metric 'fone'"),
        ('">=2.0"', '"soon"', "variants.fixed.expect[1].when.torch: invalid version specifier 'soon'"),
        ("  fixed:\n", "  broken:\n", "duplicate key 'broken'"),
        ("name: demo", "name: !!python/object/apply:os.system ['echo pwned']", "s.yaml:1:7: invalid YAML"),
        ("train:\n  epochs: 2\n", "train:\n  epochs: [2\n", "invalid YAML"),
        ("class_weights: true", "defaults: false", "plugin 'defaults' is part of the core"),
    ],
)
def test_bad_input_names_file_line_and_field(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, GOOD.replace(old, new, 1)))
    assert expected in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "s.yaml"))


def test_empty_variants_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="variants: Dictionary should have at least 1 item"):
        load_scenario(write(tmp_path, "name: x\nworkload: {name: devign}\nvariants: {}\n"))
    with pytest.raises(ScenarioError, match="a scenario must be a mapping"):
        load_scenario(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(ScenarioError, match="cannot read file"):
        load_scenario(tmp_path / "missing.yaml")


def test_shipped_scenarios_validate() -> None:
    for path in sorted(Path(__file__).parents[2].joinpath("scenarios").glob("*.yaml")):
        load_scenario(path)


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """Four typos in four sections: one error each, in the order of the file, each naming file:line:col
    and field; the first one is also the error's own path/line/field (the single-error API)."""
    text = (
        GOOD.replace("{n_train: 64}", "{n_trian: 64}")
        .replace("  epochs: 2", "  epoch: 2")
        .replace("class_weights: true", "class_weight: true")
        .replace("- final.f1 >= 0.8", "- final.fone >= 0.8")
    )
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    exc = info.value
    expected = [
        f"{path}:4:12: workload.params.n_trian: unknown field 'n_trian' (did you mean 'n_train'?)",
        f"{path}:6:3: train.epoch: unknown field 'epoch' (did you mean 'epochs'?)",
        f"{path}:15:7: variants.fixed.plugins.class_weight: unknown plugin 'class_weight' (did you mean 'class_weights'?)",
        f"{path}:18:9: variants.fixed.expect[0]: unknown metric 'fone'",
    ]
    assert [str(e)[: len(line)] for e, line in zip(exc.errors, expected, strict=False)] == expected and len(
        exc.errors
    ) == 4
    assert str(exc).splitlines() == [str(e) for e in exc.errors]
    assert (exc.field, exc.line, exc.col) == ("workload.params.n_trian", 4, 12)


def test_schema_errors_do_not_hide_the_checks_after_them(tmp_path: Path) -> None:
    """A refused expectation mapping and a bad train value still let the plugins and the other
    expectations be checked; nothing is reported twice or as a consequence of another error."""
    text = GOOD.replace(
        '{expect: "status == ok", when: {torch: ">=2.0"}}', '{expect: "status == ok", whn: {torch: ">=2.0"}}'
    )
    text = text.replace("  epochs: 2", "  epochs: -2").replace("{interval: epoch}", "{intervall: epoch}")
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text))
    fields = [e.field for e in info.value.errors]
    assert fields == ["train.epochs", "variants.broken.plugins.linear_warmup.intervall", "variants.fixed.expect[1].whn"]


def test_errors_are_capped_at_a_readable_number(tmp_path: Path) -> None:
    from harness.scenario import MAX_ERRORS

    plugins = "".join(f"      nope_{i}: true\n" for i in range(MAX_ERRORS + 3))
    path = write(tmp_path, GOOD.replace("      class_weights: true\n", plugins))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    lines = str(info.value).splitlines()
    assert len(info.value.errors) == MAX_ERRORS + 3 and len(lines) == MAX_ERRORS + 1
    assert lines[-1] == f"{path}: ... and 3 more error(s)"
    assert all(line.startswith(f"{path}:") and "unknown plugin 'nope_" in line for line in lines[:-1])


def test_the_cli_prints_each_problem_on_its_own_line_and_exits_2(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    path = write(
        tmp_path, GOOD.replace("  epochs: 2", "  epoch: 2").replace("class_weights: true", "class_weight: true")
    )
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"Error: {path}:6:3: train.epoch: unknown field 'epoch' (did you mean 'epochs'?)",
        f"Error: {path}:15:7: variants.fixed.plugins.class_weight: unknown plugin 'class_weight' (did you mean 'class_weights'?)",
    ]


def test_a_plugin_named_under_a_variants_train_points_at_the_plugin(tmp_path: Path) -> None:
    text = GOOD.replace("  fixed:\n", "  fixed:\n    train: {grad_clip: 1.0}\n")
    with pytest.raises(
        ScenarioError, match=r"did you mean the 'grad_clip' plugin: plugins: \{grad_clip: \{max_norm: 1.0\}\}"
    ):
        load_scenario(write(tmp_path, text))


def test_reports_show_only_the_optimizer_parameters_that_apply(tmp_path: Path) -> None:
    from harness.core.plugin import shown_params
    from harness.plugins.fixes.optimizer import Params

    assert set(shown_params(Params(name="sgd", momentum=0.9))) == {"name", "momentum", "nesterov", "weight_decay"}
    assert set(shown_params(Params())) == {"name", "betas", "eps", "weight_decay"}
