"""Every kind of malformed scenario the issue lists: exit code 2 from ``harness run`` and
one line naming the file, the line and column, and the field; an unknown name comes with
the closest valid one. Nothing trains (each case fails validation first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

GOOD = """\
name: demo
workload:
  name: devign
  params: {n_train: 64, hidden_size: 16}
train:
  epochs: 2
  lr: 1.0e-3
seeds: [0, 1]
variants:
  broken:
    plugins:
      linear_warmup: {interval: epoch}
    expect:
      - final.f1 <= 0.05
  fixed:
    plugins:
      class_weights: true
      grad_clip: {max_norm: 1.0}
    expect:
      - final.f1 >= 0.8
"""

CASES = [
    # (what, old, new, the one line after "Error: <path>")
    ("invalid YAML", "  epochs: 2\n", "  epochs: [2\n", ":7:5: invalid YAML: expected ',' or ']', but got ':'"),
    (
        "tab indentation",
        "  epochs: 2\n",
        "\tepochs: 2\n",
        ":6:1: invalid YAML: found character '\\t' that cannot start any token",
    ),
    (
        "wrong type",
        "epochs: 2",
        "epochs: five",
        ":6:3: train.epochs: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("wrong type of a section", "seeds: [0, 1]", "seeds: 0", ":8:1: seeds: Input should be a valid list"),
    (
        "unknown top-level key",
        "seeds: [0, 1]",
        "seeds: [0, 1]\nvarients: {}",
        ":9:1: varients: unknown field 'varients' (did you mean 'variants'?)",
    ),
    (
        "unknown train key",
        "  lr: 1.0e-3",
        "  learning_rate: 1.0e-3",
        ":7:3: train.learning_rate: unknown field 'learning_rate'",
    ),
    (
        "unknown plugin",
        "class_weights: true",
        "class_weigths: true",
        ":17:7: variants.fixed.plugins.class_weigths: unknown plugin 'class_weigths' (did you mean 'class_weights'?)",
    ),
    (
        "unknown parameter",
        "{max_norm: 1.0}",
        "{max_nrom: 1.0}",
        ":18:19: variants.fixed.plugins.grad_clip.max_nrom: unknown parameter 'max_nrom' of plugin 'grad_clip' (did you mean 'max_norm'?)",
    ),
    (
        "bad parameter value",
        "{interval: epoch}",
        "{interval: hourly}",
        ":12:23: variants.broken.plugins.linear_warmup.interval: Input should be 'step' or 'epoch'",
    ),
    ("negative epochs", "epochs: 2", "epochs: -3", ":6:3: train.epochs: Input should be greater than 0"),
    ("zero learning rate", "lr: 1.0e-3", "lr: 0", ":7:3: train.lr: Input should be greater than 0"),
    ("infinite learning rate", "lr: 1.0e-3", "lr: .inf", ":7:3: train.lr: Input should be a finite number"),
    (
        "negative workload size",
        "n_train: 64",
        "n_train: -64",
        ":4:12: workload.params.n_train: Input should be greater than 0",
    ),
    (
        "empty seed list",
        "seeds: [0, 1]",
        "seeds: []",
        ":8:1: seeds: List should have at least 1 item after validation, not 0",
    ),
    (
        "empty variant list",
        "variants:\n",
        "variants: {}\nunused:\n",
        ":9:1: variants: Dictionary should have at least 1 item after validation, not 0",
    ),
    (
        "variants as a list",
        "variants:\n",
        "variants: [broken, fixed]\nunused:\n",
        ":9:1: variants: Input should be a valid dictionary",
    ),
    (
        "unparsable expectation",
        "final.f1 <= 0.05",
        "final.f1 =< 0.05",
        ":14:9: variants.broken.expect[0]: cannot parse expectation 'final.f1 =< 0.05'",
    ),
    (
        "unknown metric",
        "final.f1 >= 0.8",
        "final.f2 >= 0.8",
        ":20:9: variants.fixed.expect[0]: unknown metric 'f2' (did you mean 'f1'?)",
    ),
    (
        "empty range",
        "final.f1 >= 0.8",
        "final.f1 between 0.9 and 0.1",
        ":20:9: variants.fixed.expect[0]: 'final.f1 between 0.9 and 0.1': empty range, 0.9 > 0.1",
    ),
    (
        "duplicate variant names",
        "  fixed:\n",
        "  broken:\n",
        ":15:3: invalid YAML: duplicate key 'broken' (first at line 10)",
    ),
    (
        "duplicate train key",
        "  lr: 1.0e-3\n",
        "  lr: 1.0e-3\n  lr: 2.0e-3\n",
        ":8:3: invalid YAML: duplicate key 'lr' (first at line 7)",
    ),
    (
        "unknown workload",
        "name: devign",
        "name: devigm",
        ":3:3: workload.name: unknown workload 'devigm' (did you mean 'devign'?)",
    ),
    (
        "unknown workload parameter",
        "hidden_size: 16",
        "hiden_size: 16",
        ":4:25: workload.params.hiden_size: unknown field 'hiden_size' (did you mean 'hidden_size'?)",
    ),
    (
        "python tag",
        "name: demo",
        "name: !!python/object/apply:os.system [echo hi]",
        ":1:7: invalid YAML: YAML tag '!!python/object/apply:os.system' is refused: a scenario is plain data (python tags would run code)",
    ),
    (
        "bad scalar tag",
        "epochs: 2",
        "epochs: !!int two",
        ":6:11: invalid YAML: cannot read int value 'two': invalid literal for int() with base 10: 'two'",
    ),
    (
        "a list as a key",
        "  lr: 1.0e-3\n",
        "  ? [lr]\n  : 1.0e-3\n",
        ":7:5: invalid YAML: a key must be a plain value, not list",
    ),
    (
        "control character",
        "name: demo",
        "name: de\x07mo",
        ":1:9: invalid YAML: unacceptable character #x0007: special characters are not allowed",
    ),
    (
        "core plugin switched off",
        "class_weights: true",
        "defaults: false",
        ":17:7: variants.fixed.plugins.defaults: plugin 'defaults' is part of the core and cannot be switched off",
    ),
    (
        "plugin_modules not module:attr",
        "seeds: [0, 1]",
        "seeds: [0, 1]\nplugin_modules: [os]",
        ":9:18: plugin_modules[0]: expected 'package.module:PluginClass', got 'os'",
    ),
    (
        "plugin_modules not a plugin",
        "seeds: [0, 1]",
        "seeds: [0, 1]\nplugin_modules: ['os:system']",
        ":9:18: plugin_modules[0]: os:system is not a harness Plugin subclass with a name",
    ),
]


# cases with a second real problem: every problem of a file is reported, one line each
MORE = {
    "empty variant list": [":10:1: unused: unknown field 'unused'"],
    "variants as a list": [":10:1: unused: unknown field 'unused'"],
}


def run_cli(path: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(main, ["run", str(path), "-q"])
    return result.exit_code, result.output.strip().splitlines()


@pytest.mark.parametrize(("what", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_exits_2_with_one_line(tmp_path: Path, what: str, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    path = tmp_path / "scenario.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    code, lines = run_cli(path)
    assert code == 2, lines
    assert len(lines) == 1 + len(MORE.get(what, [])), lines
    assert lines[0].startswith(f"Error: {path}{expected}"), lines[0]
    for line, more in zip(lines[1:], MORE.get(what, []), strict=False):
        assert line.startswith(f"Error: {path}{more}"), line


def test_the_good_scenario_is_good(tmp_path: Path) -> None:
    from harness.scenario import load_scenario

    path = tmp_path / "scenario.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert list(load_scenario(path).variants) == ["broken", "fixed"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", ": the file is empty (or only comments); a scenario must be a mapping with name, workload and variants"),
        (
            b"# just a comment\n",
            ": the file is empty (or only comments); a scenario must be a mapping with name, workload and variants",
        ),
        (b"- a\n- list\n", ":1:1: a scenario must be a mapping with name, workload and variants"),
        (b"name: caf\xe9\n", ":1:10: invalid YAML: not UTF-8 text (invalid continuation byte at byte 9)"),
        (
            b"name: a\n---\nname: b\n",
            ":2:1: invalid YAML: expected a single document in the stream, but found another document",
        ),
    ],
)
def test_unreadable_documents_exit_2_with_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(content)
    code, lines = run_cli(path)
    assert code == 2 and lines == [f"Error: {path}{expected}"], lines


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, lines = run_cli(tmp_path / "nope.yaml")
    assert code == 2 and len(lines) == 1 and "nope.yaml: cannot read file: No such file or directory" in lines[0]
