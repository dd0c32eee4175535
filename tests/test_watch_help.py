"""Each command's ``--help`` describes what that command accepts: ``harness watch``'s
``--with/--without/--set`` speak of the watched program's monitors, not of a scenario's
variants and training fields (which watch refuses), and the examples they give are accepted."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from harness.cli.main import main as cli
from harness.cli.options import PluginFlags
from harness.cli.watch import _BadInput, _plugin_overrides


def _help(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_watch_help_speaks_of_watch() -> None:
    text = _help("watch")
    assert "every variant" not in text
    assert "train.lr" not in text
    assert "--set MONITOR.PARAM=VALUE" in text


def test_the_examples_of_watch_help_are_accepted() -> None:
    text = _help("watch")
    (example,) = re.findall(r"e\.g\. (\w+\.\w+=\S+?)\.? ", text)
    with_, without = (
        re.findall(r"--with MONITOR .*? e\.g\. (\w+);", text)[0],
        re.findall(r"--without MONITOR .*? e\.g\. (\w+)\.", text)[0],
    )
    overrides = _plugin_overrides(PluginFlags(with_=(with_,), without=(without,), sets=(example,)))
    name, param = example.split("=")[0].split(".")
    assert param in overrides[name]
    with pytest.raises(_BadInput, match="does not apply"):  # what run's help suggested
        _plugin_overrides(PluginFlags(with_=(), without=(), sets=("train.lr=1.0",)))


@pytest.mark.parametrize("command", ["run", "ablate", "doctor"])
def test_the_scenario_commands_keep_their_training_fields(command: str) -> None:
    assert "train.FIELD=VALUE" in _help(command)
