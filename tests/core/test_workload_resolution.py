"""``workload.name`` resolves like a plugin: built-in, entry point, or ``module:Class``.

Unknown names fail at validation with the file:line, the closest name and the list.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.core.resolver import Entry
from harness.scenario import ScenarioError, load_scenario

USER_MODULE = '''
import torch
from pydantic import BaseModel
from torch.utils.data import TensorDataset



from harness import Workload


class Lines(Workload):
    """Two classes split by a line; an MLP."""

    class Params(BaseModel):
        n: int = 64

    def build_model(self):
        return torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))

    def datasets(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(self.params.n, 2, generator=g)
        y = (x[:, 0] > 0).long()
        half = self.params.n // 2
        return TensorDataset(x[:half], y[:half]), TensorDataset(x[half:], y[half:])


class Scores(Workload):
    metrics = ("my_score",)

    def evaluate(self, model, loader, device):
        return {"my_score": 1.0}


class BadColumns(Lines):
    key_metrics = ("f1", "nope")


class NotAWorkload:
    pass
'''

SCENARIO = """\
name: own
workload:
  name: {name}
  params: {params}
train: {{epochs: 1, batch_size: 16, lr: 1.0e-2, device: cpu}}
variants:
  plain:
    expect: [{expect}]
"""


@pytest.fixture()
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "my_workloads.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write(tmp_path: Path, name: str, params: str = "{}", expect: str = "status == ok") -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(name=name, params=params, expect=json.dumps(expect)))
    return path


def test_module_class_reference_resolves_and_validates_params(user_module: Path) -> None:
    sc = load_scenario(write(user_module, "my_workloads:Lines", "{n: 32}", "final.macro_f1 >= 0.0"))
    assert sc.workload == "my_workloads:Lines" and sc.workload_params.n == 32
    assert "pred_share_<k>" in sc.metrics
    with pytest.raises(ScenarioError, match=r"scenario.yaml:4:\d+: workload.params.m: unknown field 'm'"):
        load_scenario(write(user_module, "my_workloads:Lines", "{m: 32}"))


def test_metrics_a_workload_declares_are_the_ones_a_scenario_may_name(user_module: Path) -> None:
    load_scenario(write(user_module, "my_workloads:Lines", expect="final.pred_share_1 <= 0.9"))
    with pytest.raises(ScenarioError, match="unknown metric 'pred_shar_1'"):
        load_scenario(write(user_module, "my_workloads:Lines", expect="final.pred_shar_1 <= 0.9"))
    sc = load_scenario(write(user_module, "my_workloads:Scores", expect="final.my_score >= 1"))
    assert sc.key_metrics == ("my_score", "loss")  # its own metrics' first two, and the loss
    assert load_scenario(write(user_module, "my_workloads:Lines")).key_metrics == ("f1", "max_pred_share", "loss")
    with pytest.raises(ScenarioError, match="declares key metric 'nope', which is not among its metrics"):
        load_scenario(write(user_module, "my_workloads:BadColumns"))
    with pytest.raises(ScenarioError, match="unknown metric 'f1'"):
        load_scenario(write(user_module, "my_workloads:Scores", expect="final.f1 >= 1"))


def test_unknown_name_lists_the_available_workloads(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, "devgin"))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'scenario.yaml'}:3:")
    assert "unknown workload 'devgin' (did you mean 'devign'?)" in message
    assert "available: devign, patch_distillation, tabular, tabular_regression, text_classification" in message


def test_unknown_workload_exits_2_with_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(write(tmp_path, "tabulr")), "-q"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown workload 'tabulr' (did you mean 'tabular'?)" in lines[0]


def test_bad_references_are_named(user_module: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot load workload 'no_such_module:X': No module named"):
        load_scenario(write(user_module, "no_such_module:X"))
    with pytest.raises(ScenarioError, match="is not a subclass of harness.Workload"):
        load_scenario(write(user_module, "my_workloads:NotAWorkload"))
    (user_module / "broken_import.py").write_text("raise RuntimeError('boom at import')\n")
    with pytest.raises(ScenarioError, match="importing it raised RuntimeError: boom at import"):
        load_scenario(write(user_module, "broken_import:Anything"))


def test_entry_point_workloads_are_found_by_name(user_module: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.workloads as registry

    monkeypatch.setattr(registry, "entry_points", lambda group: [Entry("lines", "my_workloads:Lines", "my-dist")])
    assert registry.find_workload("lines").source == "my-dist"
    sc = load_scenario(write(user_module, "lines"))
    assert sc.workload == "lines"
    monkeypatch.setattr(registry, "entry_points", lambda group: [Entry("devign", "my_workloads:Lines", "rogue")])
    with pytest.raises(Exception, match="two workloads are named 'devign'"):
        registry.available_workloads()


def test_harness_workloads_lists_builtins_with_parameters_and_metrics() -> None:
    result = CliRunner().invoke(main, ["workloads", "--json"])
    assert result.exit_code == 0, result.output
    listed = {w["name"]: w for w in json.loads(result.output)}
    assert {"devign", "patch_distillation", "tabular", "text_classification"} <= set(listed)
    devign = listed["devign"]
    assert devign["source"] == "harness (built-in)" and devign["parameters"]["n_train"]["default"] == 2500
    assert "macro_f1" in devign["metrics"] and "output_std" in listed["patch_distillation"]["metrics"]
    table = CliRunner().invoke(main, ["workloads"], env={"COLUMNS": "80"})
    assert table.exit_code == 0 and "patch_distillation  harness (built-in)" in table.output
    assert all(len(line) <= 80 for line in table.output.splitlines())


def test_set_train_field_overrides_every_variant(tmp_path: Path) -> None:
    from harness.scenario import parse_plugin_options

    path = write(tmp_path, "devign", "{n_train: 64, n_val: 32}")
    sc = load_scenario(path, plugin_overrides=parse_plugin_options(sets=("train.lr=1.0", "train.epochs=3")))
    assert sc.variants["plain"].train.lr == 1.0 and sc.variants["plain"].train.epochs == 3
    with pytest.raises(ScenarioError, match=r"--set train.lrr: unknown training field 'lrr' \(did you mean 'lr'\?\)"):
        load_scenario(path, plugin_overrides=parse_plugin_options(sets=("train.lrr=1.0",)))
    with pytest.raises(ScenarioError, match="--set train.lr: Input should be greater than 0"):
        load_scenario(path, plugin_overrides=parse_plugin_options(sets=("train.lr=-1",)))
    with pytest.raises(ValueError, match="'train' is not a plugin"):
        parse_plugin_options(with_=("train",))
    result = CliRunner().invoke(main, ["run", str(path), "--set", "train.batch_size=0", "-q"])
    assert result.exit_code == 2 and "--set train.batch_size: Input should be greater than 0" in result.output


def test_unknown_start_method_is_refused() -> None:
    from harness.execution.executor import _context

    with pytest.raises(ValueError, match="start method 'teleport' is not available here"):
        _context("teleport")
    assert _context("spawn").get_start_method() == "spawn"


@pytest.mark.slow
def test_spawned_workers_import_a_module_class_workload(user_module: Path) -> None:
    """With spawn nothing is inherited: each worker imports ``my_workloads`` itself, and the
    records equal fork's."""
    import harness

    scenario = {
        "name": "own",
        "workload": {"name": "my_workloads:Lines", "params": {"n": 64}},
        "train": {"epochs": 4, "batch_size": 8, "lr": 0.05, "device": "cpu"},
        "seeds": [0, 1],
        "variants": {"plain": {"expect": ["final.accuracy >= 0.8"]}},
    }
    spawned = harness.run_scenario(scenario, jobs=2, start_method="spawn", results_dir=user_module / "spawn")
    forked = harness.run_scenario(scenario, jobs=2, start_method="fork", results_dir=user_module / "fork")
    assert [r["status"] for r in spawned["runs"]] == ["ok", "ok"], [r.get("error") for r in spawned["runs"]]
    assert [r["history"] for r in spawned["runs"]] == [r["history"] for r in forked["runs"]]
    assert spawned["passed"] and spawned["scenario"]["workload"] == "my_workloads:Lines"


def test_a_module_off_sys_path_gets_a_pythonpath_hint(tmp_path: Path) -> None:
    with pytest.raises(
        ScenarioError, match=r"No module named 'my_incident' \(not importable from sys.path: .*PYTHONPATH=DIR\)"
    ):
        load_scenario(write(tmp_path, "my_incident:MyWorkload"))


def test_run_scenario_returns_the_cli_report(user_module: Path) -> None:
    import harness

    path = write(user_module, "my_workloads:Lines", "{n: 32}", "status == ok")
    report = harness.run_scenario(path, seeds=[3], results_dir=user_module / "out", overrides={"train": {"epochs": 1}})
    assert report["passed"] and [(r["variant"], r["seed"]) for r in report["runs"]] == [("plain", 3)]
    assert report["runs"][0]["train"]["epochs"] == 1 and len(report["runs"][0]["history"]) == 1
    assert (user_module / "out" / "results" / "plain-seed3.json").exists()
    with pytest.raises(ScenarioError, match="unknown variant 'fixd'"):
        harness.run_scenario(path, variants=["fixd"])


def test_a_bad_start_method_is_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", str(write(tmp_path, "devign")), "-q"], env={"HARNESS_START_METHOD": "bogus"}
    )
    assert result.exit_code == 2 and "$HARNESS_START_METHOD='bogus': choose one of" in result.output
