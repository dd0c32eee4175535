"""The scenario schema (pydantic, strict) and the resolved Scenario and Variant that runs use."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt

from harness.scenario.expectations import Expectation

if TYPE_CHECKING:
    from harness.core.pluginmanager import PluginInfo


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # `lr: .inf` is an error, not a run


class TrainConfig(Strict):
    epochs: PositiveInt = Field(default=5, description="training epochs")
    batch_size: PositiveInt = Field(default=64, description="batch size per step")
    lr: PositiveFloat = Field(default=2e-5, description="base learning rate (plugins may scale it)")
    weight_decay: NonNegativeFloat = Field(default=0.01, description="AdamW weight decay")
    accumulation_steps: PositiveInt = Field(default=1, description="batches per optimizer step")
    warmup_ratio: float = Field(default=0.1, ge=0, le=1, description="share of steps spent warming up")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="where to train")
    threads: PositiveInt | None = Field(default=None, description="torch CPU threads (default: torch's choice)")


class WorkloadSpec(Strict):
    name: str | None = Field(default=None, min_length=1)  # a Workload class (or: script / module)
    params: dict[str, Any] = Field(default_factory=dict)
    # a training script run as a process under the watcher (docs/replay-script.md)
    script: str | None = Field(default=None, min_length=1)  # a .py file, relative to the scenario file
    module: str | None = Field(default=None, min_length=1)  # run as `python -m MODULE`
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, str] = Field(default_factory=dict)  # name -> a regex of the program's output
    seeding: bool = True  # the run's seed seeds torch/numpy/random and offsets the script's own seeds


class ExpectationSpec(Strict):
    expect: str
    when: dict[Literal["torch"], str] | None = None
    pass_rate: str | float | None = None  # share of seeds that must pass, e.g. ">= 0.8"


class VariantSpec(Strict):
    description: str = ""
    plugins: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    expect: list[str | ExpectationSpec] = Field(default_factory=list)
    # a script workload's variant (docs/replay-script.md): what it changes in the program's run
    script: str | None = Field(default=None, min_length=1)  # another file, relative to the scenario file
    args: list[str] | None = None  # replaces the workload's args
    extra_args: list[str] = Field(default_factory=list)  # appended to the (replaced) args
    env: dict[str, str] = Field(default_factory=dict)  # added to the workload's env
    patch: str | None = Field(default=None, min_length=1)  # a unified diff, applied to a copy of the script's folder
    git: str | None = Field(default=None, min_length=1)  # the program as of this commit of the script's repository


class ScriptRun(Strict):
    """One variant's program (a script workload): what a script run starts, resolved at load time."""

    script: str | None  # absolute path (or None: ``module``)
    module: str | None
    args: list[str]
    env: dict[str, str]
    cwd: str  # where it runs: the script's folder (module: the scenario's); ``patch`` applies to a copy of it
    patch: str | None  # absolute path of a unified diff
    git: str | None = None  # the commit (full hash) whose tree the program runs in; ``patch`` applies on top
    repo: str | None = None  # with ``git``: the repository's top folder (``cwd`` lies under it)
    metrics: dict[str, str]  # name -> regex of its output
    seeding: bool
    plugins: dict[str, Any]  # the watcher's plugin settings (monitors), as the YAML gives them
    fixes: dict[
        str, dict[str, Any]
    ] = {}  # fixes the watcher applies to the program (``acts_on_scripts``): name -> params


class ScenarioSpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    # where the incident was reported: a URL or a citation, shown in reports
    source: str | None = Field(default=None, min_length=1)
    workload: WorkloadSpec
    train: TrainConfig = Field(default_factory=TrainConfig)
    plugins: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, VariantSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    # plugins that are not installed: "package.module:Class", imported (its code runs,
    # as a conftest's does) before validation, in the CLI's and every worker's process
    plugin_modules: list[str] = Field(default_factory=list)


@dataclass
class Variant:
    name: str
    description: str
    plugins: dict[str, BaseModel]  # enabled plugin name -> validated params
    train: TrainConfig
    expectations: list[Expectation]
    script: ScriptRun | None = None  # a script workload: the program this variant runs


@dataclass
class Scenario:
    path: Path
    name: str
    description: str
    workload: str
    workload_params: BaseModel
    variants: dict[str, Variant]
    seeds: list[int]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    plugin_modules: tuple[str, ...] = ()  # "module:Class" plugins beyond the installed ones
    metrics: tuple[str, ...] = ()  # the workload's declared validation metrics (``x_<k>``: one per class)
    key_metrics: tuple[str, ...] = ()  # the workload's headline metrics: the reports' columns
    source: str | None = None  # where the incident was reported (a URL or a citation)

    @property
    def catalogue(self) -> Mapping[str, PluginInfo]:
        """The plugins this scenario may use, discovered once per process (:func:`harness.scenario.arms.catalogue`)."""
        from harness.scenario.arms import catalogue

        return catalogue(self.plugin_modules)

    def derive(
        self,
        like: str,
        name: str,
        changes: Mapping[str, Any],
        *,
        description: str,
        expectations: list[Expectation] | None = None,
        only: bool = False,
        label: str | None = None,
        program: Mapping[str, Any] | None = None,
    ) -> Variant:
        """The one way to build an arm: variant ``like`` (its train config, its plugins unless
        ``only``) with ``changes`` (plugin -> validated Params, YAML-style parameters, or
        None/False for off), validated and checked for slot conflicts
        (:func:`harness.scenario.arms.derive_plugins`); judged by ``expectations`` (default: ``like``'s).
        ``program``: a script variant's :class:`ScriptRun` fields changed (an ablation's hunk arm:
        its ``patch``, the base's ``git``)."""
        from harness.scenario.arms import derive_plugins

        source = self.variants[like]
        plugins = derive_plugins(
            self.catalogue, {} if only else source.plugins, changes, label=label or f"arm {name!r}"
        )
        judged = source.expectations if expectations is None else expectations
        script = source.script
        if script is not None:  # the watcher applies the arm's fixes to the program
            from harness.scenario.arms import script_arm_fixes

            fixes = script_arm_fixes(self.catalogue, plugins, label or name)
            script = script.model_copy(update={**(program or {}), "fixes": fixes})
        return Variant(name, description, plugins, source.train, list(judged), script=script)

    def with_variants(self, variants: Mapping[str, Variant]) -> Scenario:
        """A copy whose variants are ``variants`` (the arms of an experiment)."""
        return dataclasses.replace(self, variants=dict(variants))
