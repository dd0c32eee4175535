"""``harness doctor -- python train.py``: the command as a script scenario (harness.cli.doctor_program)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli.doctor_program import is_command, parse_metrics, program_scenario, saved_scenario
from harness.scenario import load_scenario


def test_a_command_is_told_from_a_scenario_file() -> None:
    assert is_command(("python", "train.py"))
    assert is_command(("train.py",))
    assert not is_command(("incident.yaml",))


def test_metrics_are_name_equals_regex_and_a_bad_one_is_named() -> None:
    assert parse_metrics(["val_acc=val_acc ([\\d.]+)"]) == {"val_acc": "val_acc ([\\d.]+)"}
    with pytest.raises(ValueError, match="NAME=REGEX"):
        parse_metrics(["val_acc"])
    with pytest.raises(ValueError, match="not a regular expression"):
        parse_metrics(["acc=(["])


def test_the_program_scenario_loads_and_runs_the_script_as_written_with_its_args(tmp_path: Path) -> None:
    script = tmp_path / "src" / "train.py"
    script.parent.mkdir()
    script.write_text("print('hi')\n")
    program = ("script", str(script), ["--epochs", "3"])
    path = program_scenario(program, {"acc": "acc ([\\d.]+)"}, tmp_path / ".harness" / "train" / "doctor")
    loaded = load_scenario(path)
    assert loaded.name == "train" and list(loaded.variants) == ["broken"]
    run = loaded.variants["broken"].script
    assert run is not None and Path(run.script) == script and run.args == ["--epochs", "3"]
    assert run.metrics == {"acc": "acc ([\\d.]+)"} and run.fixes == {}


def test_the_saved_scenario_keeps_broken_and_the_proven_cure(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    fixed = "  fixed:\n    description: broken + grad_reset\n    plugins:\n      grad_reset: {}\n    expect:\n      - no finding stale_gradients"
    section = {"observed": {"stale_gradients": 3}, "seeds": [0, 1, 2], "fixed_yaml": fixed}
    line = saved_scenario(tmp_path / "incident.yaml", ("script", str(script), []), {}, section, "python train.py")
    assert "broken and fixed" in line
    data = yaml.safe_load((tmp_path / "incident.yaml").read_text())
    assert data["workload"]["script"] == "train.py"  # relative to the scenario file
    assert data["variants"]["broken"]["expect"] == ["finding stale_gradients", "exit == 0"]
    assert data["variants"]["fixed"]["plugins"] == {"grad_reset": {}}
    loaded = load_scenario(tmp_path / "incident.yaml")
    assert loaded.variants["fixed"].script is not None and loaded.variants["fixed"].script.fixes == {"grad_reset": {}}


def test_harness_doctor_refuses_what_is_neither_a_scenario_nor_a_python_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(main, ["doctor", "--", "bash", "train.sh"])
    assert result.exit_code == 2 and "python SCRIPT.py" in result.output
    result = CliRunner().invoke(main, ["doctor", "--metric", "x=y", "incident.yaml"])
    assert result.exit_code == 2 and "--metric goes with a command" in result.output
