"""No silent conflicts: two enabled plugins answering one firstresult hook (a *slot*) are refused
before training, everywhere a run's plugins are put together, unless one declares it replaces the other.

Before this rule, pluggy's call order (the later registration first) silently chose the winner:
``class_weights`` + ``sample_weighted_loss`` trained with the v1.5 loss, two schedulers were
both stepped, and an ablation measured a fix that never ran.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict

from harness.cli import main
from harness.core.plugin import Plugin, hookimpl
from harness.core.pluginmanager import (
    FIRSTRESULT_HOOKS,
    PluginConflictError,
    PluginInfo,
    build_run_manager,
    discover_plugins,
    plugin_slots,
    resolve_conflicts,
)
from harness.scenario import ScenarioError, load_scenario
from harness.testing import enabled_plugins, run_tiny, train_tiny

pytest_plugins = ("pytester",)

# every built-in's slots: the firstresult hooks it answers itself (not as a wrapper) + declared slots
BUILTIN_SLOTS = {
    "defaults": set(),  # the core answers every firstresult hook last, by design: no slot
    "class_weights": {"make_criterion"},
    "sample_weighted_loss": {"make_criterion"},
    "logit_norm": set(),  # wraps make_criterion, whoever builds the criterion
    "sgd_nesterov": {"make_optimizer"},
    "optimizer": {"make_optimizer"},
    "layerwise_lr": {"param_groups"},  # a make_optimizer wrapper that sets the groups: a declared slot
    "two_stage": {"param_groups", "make_scheduler"},
    "linear_warmup": {"make_scheduler"},
    "warmup_cosine": {"make_scheduler"},
    "plateau": {"make_scheduler"},
    "mixed_precision": {"forward_context", "backward", "optimizer_step"},
    "scale_matching": {"distill_inputs"},
    "checkpoint": {"save_checkpoint"},
    "loss_weights": set(),  # sets loss-term weights in on_setup: no loss hook of its own any more
    "distillation": set(),
    "grad_clip": set(),
    "lr_scaling": set(),
}


def _available() -> dict[str, PluginInfo]:
    return discover_plugins()


@pytest.mark.parametrize("name", sorted(BUILTIN_SLOTS))
def test_builtin_slots(name: str) -> None:
    info = _available().get(name)
    if info is None:
        pytest.skip(f"{name} is not shipped")
    params = info.cls.Params.model_construct()
    assert plugin_slots(info.cls, params) == BUILTIN_SLOTS[name]


def test_every_pair_of_builtins_in_one_slot_is_refused_or_declares_a_replacement() -> None:
    """The table of all built-in pairs: none may share a slot silently."""
    available = _available()
    for a, b in itertools.combinations(sorted(available), 2):
        if available[a].kind == "core" or available[b].kind == "core":
            continue
        pa, pb = (available[n].cls.Params.model_construct() for n in (a, b))
        shared = plugin_slots(available[a].cls, pa) & plugin_slots(available[b].cls, pb)
        replacing = b in available[a].cls.replaces or a in available[b].cls.replaces
        if not shared and not replacing:
            assert resolve_conflicts(available, {a: pa, b: pb}) == ({a: pa, b: pb}, {})
        elif replacing:
            kept, superseded = resolve_conflicts(available, {a: pa, b: pb})
            assert len(kept) == 1 and len(superseded) == 1, (a, b)
        else:
            with pytest.raises(PluginConflictError) as info:
                resolve_conflicts(available, {a: pa, b: pb})
            assert set(info.value.plugins) == {a, b} and info.value.slot in shared


def test_replaces_switches_the_replaced_plugin_off() -> None:
    available = _available()
    enabled = enabled_plugins({"sample_weighted_loss": True, "class_weights": True})
    kept, superseded = resolve_conflicts(available, enabled)
    assert superseded == {"sample_weighted_loss": "class_weights"}
    assert "sample_weighted_loss" not in kept and "class_weights" in kept


def test_the_conflict_names_both_plugins_and_the_hook() -> None:
    with pytest.raises(PluginConflictError) as info:
        resolve_conflicts(_available(), enabled_plugins({"linear_warmup": True, "warmup_cosine": True}))
    assert info.value.plugins == ("linear_warmup", "warmup_cosine") and info.value.slot == "make_scheduler"
    assert "both answer the firstresult hook 'make_scheduler'" in str(info.value)
    assert "replaces" in str(info.value)  # says how to declare it


class _NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Scheduler(Plugin):
    """Test double. Pathology: none. Signal: none. Fix: a scheduler plugin."""

    name, Params = "my_scheduler", _NoParams

    @hookimpl
    def make_scheduler(self) -> None:
        return None


class _ReplacingScheduler(_Scheduler):
    """Test double. Pathology: none. Signal: none. Fix: supersedes linear_warmup."""

    name = "my_replacing_scheduler"
    replaces = ("linear_warmup",)


class _Wrapper(Plugin):
    """Test double. Pathology: none. Signal: none. Fix: wraps the scheduler."""

    name, Params = "my_wrapper", _NoParams

    @hookimpl(wrapper=True)
    def make_scheduler(self) -> Any:
        return (yield)


class _Switchable(Plugin):
    """Test double. Pathology: none. Signal: none. Fix: answers make_scheduler only when on."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        on: bool = True

    name = "my_switchable"

    def unused_hooks(self) -> frozenset[str]:
        return frozenset() if self.params.on else frozenset({"make_scheduler"})

    @hookimpl
    def make_scheduler(self) -> None:
        return None


class _ReplacesCore(_Scheduler):
    """Test double. Pathology: none. Signal: none. Fix: none."""

    name = "my_core_replacer"
    replaces = ("defaults",)


def _with(*classes: type[Plugin]) -> dict[str, PluginInfo]:
    available = dict(_available())
    for cls in classes:
        available[cls.name] = PluginInfo(cls.name, cls, "test")
    return available


def test_third_party_plugins_follow_the_same_rule() -> None:
    available = _with(_Scheduler, _ReplacingScheduler, _Wrapper, _Switchable, _ReplacesCore)
    lw = {"linear_warmup": available["linear_warmup"].cls.Params()}
    with pytest.raises(PluginConflictError, match="'linear_warmup' and 'my_scheduler'"):
        resolve_conflicts(available, {**lw, "my_scheduler": _NoParams()})
    kept, superseded = resolve_conflicts(available, {**lw, "my_replacing_scheduler": _NoParams()})
    assert superseded == {"linear_warmup": "my_replacing_scheduler"} and list(kept) == ["my_replacing_scheduler"]
    assert resolve_conflicts(available, {**lw, "my_wrapper": _NoParams()})[1] == {}  # a wrapper answers nothing
    off = _Switchable.Params(on=False)
    assert resolve_conflicts(available, {**lw, "my_switchable": off})[1] == {}  # its params leave the hook unused
    with pytest.raises(PluginConflictError):
        resolve_conflicts(available, {**lw, "my_switchable": _Switchable.Params(on=True)})
    with pytest.raises(PluginConflictError, match="cannot replace the core plugin 'defaults'"):
        resolve_conflicts(available, {"defaults": _NoParams(), "my_core_replacer": _NoParams()})


def test_the_plugin_manager_itself_refuses_a_conflict_and_applies_replaces() -> None:
    available = _available()
    with pytest.raises(PluginConflictError):
        build_run_manager(available, enabled_plugins({"plateau": True, "warmup_cosine": True}))
    pm, _ = build_run_manager(available, enabled_plugins({"sample_weighted_loss": True, "class_weights": True}))
    assert pm.get_plugin("class_weights") is not None and pm.get_plugin("sample_weighted_loss") is None
    assert pm.is_blocked("sample_weighted_loss")


def test_harness_testing_helpers_refuse_a_conflict() -> None:
    with pytest.raises(PluginConflictError, match="make_scheduler"):
        run_tiny({"linear_warmup": True, "plateau": True}, epochs=1)
    with pytest.raises(PluginConflictError, match="'linear_warmup' and 'my_scheduler'"):
        train_tiny({"linear_warmup": True, "my_scheduler": True}, extra=(_Scheduler,), epochs=1)


def test_firstresult_hooks_are_read_from_the_hookspecs() -> None:
    assert {
        "make_criterion",
        "make_optimizer",
        "make_scheduler",
        "save_checkpoint",
        "distill_inputs",
    } <= FIRSTRESULT_HOOKS
    assert not {"on_setup", "extra_losses", "on_after_backward", "on_checkpoint"} & FIRSTRESULT_HOOKS


# ------------------------------------------------------------------ at scenario validation

SCENARIO = """\
name: conflicts
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu}
plugins:
  sample_weighted_loss: true
variants:
  broken:
    plugins:
      linear_warmup: {interval: epoch}
    expect: [status == ok]
  fixed:
    plugins:
      class_weights: true
      linear_warmup: {interval: step}
    expect: [status == ok]
"""


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "conflicts.yaml"
    path.write_text(SCENARIO)
    return path


def test_a_replacement_resolves_at_load(scenario: Path) -> None:
    loaded = load_scenario(scenario)
    assert "sample_weighted_loss" in loaded.variants["broken"].plugins
    assert "sample_weighted_loss" not in loaded.variants["fixed"].plugins  # class_weights replaces it
    assert "class_weights" in loaded.variants["fixed"].plugins


def test_linear_warmup_with_warmup_cosine_exits_2_naming_file_variant_plugins_and_hook(scenario: Path) -> None:
    scenario.write_text(
        SCENARIO.replace(
            "      linear_warmup: {interval: step}\n",
            "      linear_warmup: {interval: step}\n      warmup_cosine: true\n",
        )
    )
    result = CliRunner().invoke(main, ["run", str(scenario), "-q"])
    assert result.exit_code == 2, result.output
    [line] = [ln for ln in result.output.splitlines() if ln.strip()]
    assert f"{scenario}:15:" in line  # the file and the line of the variant's plugins
    assert "variants.fixed.plugins" in line and "variant 'fixed'" in line
    assert "'linear_warmup' and 'warmup_cosine' both answer the firstresult hook 'make_scheduler'" in line
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--with", "plateau"], "'linear_warmup' and 'plateau' both answer the firstresult hook 'make_scheduler'"),
        (["--set", "warmup_cosine.floor=0.2"], "'linear_warmup' and 'warmup_cosine'"),
        (
            ["--with", "sgd_nesterov", "--with", "optimizer"],
            "'sgd_nesterov' and 'optimizer' both answer the firstresult hook 'make_optimizer'",
        ),
    ],
)
def test_command_line_overrides_are_checked_the_same_way(scenario: Path, options: list[str], expected: str) -> None:
    for command in (["run"], ["ablate"]):
        result = CliRunner().invoke(main, [*command, str(scenario), "-q", *options])
        assert result.exit_code == 2, result.output
        assert expected in result.output and "with --with/--without/--set applied" in result.output


def test_with_a_replacing_plugin_the_replaced_one_goes_off(scenario: Path) -> None:
    from harness.scenario import parse_plugin_options

    loaded = load_scenario(scenario, plugin_overrides=parse_plugin_options(with_=("class_weights",)))
    assert "sample_weighted_loss" not in loaded.variants["broken"].plugins


def test_load_scenario_raises_a_scenario_error(scenario: Path) -> None:
    scenario.write_text(
        SCENARIO.replace("      class_weights: true\n", "      class_weights: true\n      plateau: true\n")
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert info.value.field == "variants.fixed.plugins" and "make_scheduler" in str(info.value)


def test_the_pytest_plugin_reports_a_conflict_as_a_collection_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "conflict.yaml").write_text(
        SCENARIO.replace("      class_weights: true\n", "      class_weights: true\n      two_stage: true\n")
    )
    result = pytester.runpytest_subprocess("scenarios/", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting scenarios/conflict.yaml*",
            "*conflict.yaml:15:*variants.fixed.plugins*'linear_warmup' and 'two_stage'*make_scheduler*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_json_of_an_ablation_cannot_hold_a_conflicting_arm(scenario: Path, tmp_path: Path) -> None:
    """Ablation arms are built by slot: each arm's plugins pass the same check (no run needed:
    ablation_scenario validates every arm)."""
    from harness.experiments.ablation import ablation_scenario

    derived, arms = ablation_scenario(load_scenario(scenario), "broken", "fixed")
    available = _available()
    for variant in derived.variants.values():
        resolve_conflicts(available, variant.plugins)  # does not raise
    assert json.dumps([a.name for a in arms])  # plain names
