"""Untrusted files never run code: checkpoints, YAML, expectations, plugin names.

A hostile checkpoint here is a real one: a pickle whose unpickling calls ``exec`` to
create a marker file (the first test proves the payload fires under a plain
``torch.load(..., weights_only=False)``). Every way the harness reads a checkpoint must
refuse it with the marker never created.
"""

from __future__ import annotations

import ast
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from harness.cli import main
from harness.execution.records import RunKey
from harness.execution.run_one import execute_run
from harness.plugins.fixes.checkpoint import UntrustedCheckpointError, load_checkpoint
from harness.scenario import ScenarioError, load_scenario
from harness.scenario.expectations import ExpectationSyntaxError, parse_expectation

ROOT = Path(__file__).resolve().parents[2]


class Payload:
    """Unpickles as ``exec("open(marker, 'w').close()")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def hostile_checkpoint(path: Path, marker: Path) -> Path:
    """Looks like a checkpoint of the ``checkpoint`` plugin, carries the payload."""
    torch.save(
        {
            "format": "state_dict",
            "format_version": 1,
            "epoch": 1,
            "step": 3,
            "model_state_dict": {},
            "rng": {},
            "metrics": {"f1": Payload(marker)},
        },
        path,
    )
    return path


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    return tmp_path / "CODE-RAN"


def test_the_payload_is_live_and_weights_only_refuses_it(tmp_path: Path, marker: Path) -> None:
    path = hostile_checkpoint(tmp_path / "evil.pt", marker)
    live = tmp_path / "LIVE"
    torch.load(hostile_checkpoint(tmp_path / "live.pt", live), weights_only=False)  # what v1.5's load would do
    assert live.exists(), "the payload must really run code when fully unpickled"
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_checkpoint(path, weights_only=True)
    assert not marker.exists()


@pytest.mark.parametrize("weights_only", [None, False])
def test_unsafe_load_calls_refuse_a_file_this_process_did_not_write(
    tmp_path: Path, marker: Path, weights_only: bool | None
) -> None:
    """The v1.5 replay (``torch.load(path)``, unpickles anything up to 2.5) reads only its own files."""
    path = hostile_checkpoint(tmp_path / "evil.pt", marker)
    with pytest.raises(UntrustedCheckpointError, match="this process did not write it"):
        load_checkpoint(path, weights_only=weights_only)
    assert not marker.exists()


def tiny(variant_plugins: dict[str, Any], tmp_path: Path, write_scenario: Callable[..., Path]) -> dict[str, Any]:
    path = write_scenario({"v": {"plugins": variant_plugins}}, epochs=2)
    return execute_run(load_scenario(path), RunKey("v", 0), work_dir=tmp_path / "work")


def test_resuming_from_a_hostile_checkpoint_is_an_error_and_runs_nothing(
    tmp_path: Path, marker: Path, write_scenario: Callable[..., Path]
) -> None:
    evil = hostile_checkpoint(tmp_path / "evil.pt", marker)
    record = tiny({"resume": {"path": str(evil)}}, tmp_path, write_scenario)
    assert record["status"] == "error"
    assert (record["error"]["plugin"], record["error"]["hook"]) == ("resume", "on_train_start")
    assert "Weights only load failed" in record["error"]["message"]
    assert not marker.exists()


@pytest.mark.parametrize("weights_only", [None, False, True])
def test_a_checkpoint_swapped_before_it_is_read_back_is_never_unpickled(
    tmp_path: Path, marker: Path, write_scenario: Callable[..., Path], weights_only: bool | None
) -> None:
    """checkpoint writes, a hostile pickle replaces the file, checkpoint_load reads it back."""
    evil = hostile_checkpoint(tmp_path / "evil.pt", marker)
    record = tiny(
        {
            "checkpoint": {"format": "v15_objects"},
            "checkpoint_load": {"weights_only": weights_only},
            "swap_checkpoint": {"source": str(evil)},
        },
        tmp_path,
        write_scenario,
    )
    assert record["status"] == "ok"  # a failed round-trip is an outcome, not a crash
    assert record["trace"]["save_checkpoint"] == {"checkpoint": 2}
    assert record["trace"]["on_checkpoint"] == {"checkpoint_load": 2, "swap_checkpoint": 2}
    assert record["outcomes"]["checkpoint_roundtrip"] == "fails"
    expected = "UnpicklingError" if weights_only else "UntrustedCheckpointError"
    assert record["outcomes"]["checkpoint_error"] == expected
    assert not marker.exists()


def test_every_torch_load_in_the_harness_is_weights_only_or_guarded() -> None:
    """Audit: each ``torch.load(...)`` under harness/, plugins/, reports/ passes
    ``weights_only=True``, except the one in ``load_checkpoint``, which reads a file
    through ``_bytes_written_here`` unless weights_only is True."""
    calls = []
    for folder in ("harness", "plugins", "reports"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "torch"
                ):
                    keywords = {k.arg: k.value for k in node.keywords}
                    weights_only = keywords.get("weights_only")
                    safe = isinstance(weights_only, ast.Constant) and weights_only.value is True
                    calls.append((path.relative_to(ROOT).as_posix(), node.lineno, safe))
    assert calls, "the audit found no torch.load at all"
    unsafe = [(path, line) for path, line, safe in calls if not safe]
    assert [path for path, _ in unsafe] == ["plugins/fixes/checkpoint.py"], unsafe
    source = (ROOT / "plugins" / "fixes" / "checkpoint.py").read_text(encoding="utf-8")
    assert "source: Any = path if weights_only is True else io.BytesIO(_bytes_written_here(path))" in source


# ------------------------------------------------------------------ YAML, expectations, plugin names


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        '!!python/object/apply:builtins.exec [\'open("{marker}", "w").close()\']',
        "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
    ],
)
def test_yaml_python_tags_are_refused_with_a_clear_error(tmp_path: Path, marker: Path, tag: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: demo\nworkload:\n  name: {tag.format(marker=marker)}\nvariants: {{a: {{}}}}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    name = tag.split()[0]
    assert str(info.value) == (
        f"{path}:3:9: invalid YAML: YAML tag {name!r} is refused: a scenario is plain data (python tags would run code)"
    )
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2 and "is refused" in result.output and "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize(
    "line",
    [
        "__import__('os').system('touch {marker}')",
        "final.f1 >= __import__('os').system('touch {marker}')",
        "status == ok; __import__('os').system('touch {marker}')",
        "outcome.x == (open('{marker}', 'w'))",
    ],
)
def test_expectations_are_parsed_never_evaluated(
    tmp_path: Path, marker: Path, line: str, write_scenario: Callable[..., Path]
) -> None:
    text = line.format(marker=marker)
    with pytest.raises(ExpectationSyntaxError):
        parse_expectation(text)
    path = write_scenario({"v": {"expect": [text]}}, plugin_modules=[])
    with pytest.raises(ScenarioError, match=r"variants\.v\.expect\[0\]: cannot parse expectation"):
        load_scenario(path)
    assert not marker.exists()


def test_the_expectation_language_has_no_eval() -> None:
    import harness.scenario.expectations as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_a_plugin_name_is_looked_up_never_imported(
    tmp_path: Path, marker: Path, monkeypatch: pytest.MonkeyPatch, write_scenario: Callable[..., Path]
) -> None:
    """``plugins:`` names are looked up among the discovered plugins; only ``plugin_modules``
    entries (explicit ``module:Class``) and entry points are ever imported."""
    (tmp_path / "evil_plugin_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_scenario({"v": {"plugins": {"evil_plugin_module": True}}}, plugin_modules=[])
    with pytest.raises(ScenarioError, match="unknown plugin 'evil_plugin_module'"):
        load_scenario(path)
    assert "evil_plugin_module" not in sys.modules
    assert not marker.exists()
