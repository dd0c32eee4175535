"""Helpers for testing plugins on a tiny workload in well under a second per run.

Plugin authors (built-in or third-party) use these the way pytest plugin authors use
``pytester``: build a real :class:`~harness.core.state.TrainState`, enable the plugins under
test, train, and assert on what changed. The workload is by default
:func:`tiny_workload` (a tiny RoBERTa on ~150 synthetic ``devign`` C functions);
``workload=`` takes any other :class:`harness.Workload` instance: :func:`tiny_patch_workload`,
:func:`tiny_tabular_workload` or your own (a small model on a few hundred random tensors
trains in milliseconds).

    from harness.testing import run_tiny
    state, status, trace = run_tiny({"grad_clip": {"max_norm": 0.1}}, epochs=1)
    state, status, trace = run_tiny({"grad_clip": True}, workload=MyWorkload(), lr=0.01)

For pytest users the harness pytest plugin (installed with harness, entry point
``pytest11``) provides the ``tiny_run`` fixture, which calls :func:`train_tiny` with a
fresh run directory and returns a :class:`TinyRun`::

    def test_my_fix(tiny_run):
        run = tiny_run({"my_fix": {"strength": 2}}, extra=(MyFix,), epochs=1)
        assert run.acted("my_fix", "on_before_optimizer_step")
        assert run.finding_epochs("collapse") == []

:func:`check_plugin` lists what is wrong with a plugin class (a hookimpl with a
misspelt name, a ``Params`` model that accepts unknown keys, a docstring that does
not name the pathology, signal and fix).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TINY_DEVIGN: dict[str, Any] = {
    "n_train": 96,
    "n_val": 48,
    "max_length": 32,
    "vocab_size": 300,
    "hidden_size": 16,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 32,
    "attention_dropout": 0.0,
    "eval_batch_size": 64,
}


def tiny_workload(**overrides: Any) -> Any:
    """The default workload of these helpers: a tiny ``devign`` RoBERTa (:data:`TINY_DEVIGN`,
    ``overrides`` replace its params)."""
    from harness.workloads.devign import DevignWorkload, Params

    return DevignWorkload(Params(**(TINY_DEVIGN | overrides)))


TINY_PATCH: dict[str, Any] = {
    "n_train": 128,
    "n_val": 64,
    "image_size": 16,
    "patch_size": 4,
    "channels": 4,
    "eval_batch_size": 64,
}


def tiny_patch_workload(**overrides: Any) -> Any:
    """A tiny ``patch_distillation`` workload (16x16 images, 4x4 patches, a 4-channel student)."""
    from harness.workloads.patch_distillation import PatchDistillationWorkload
    from harness.workloads.patch_params import Params

    return PatchDistillationWorkload(Params(**(TINY_PATCH | overrides)))


def tiny_tabular_workload(**overrides: Any) -> Any:
    """A ``tabular`` MLP on scikit-learn's wine data (133 training rows, 13 features, 3 classes):
    a run of a few epochs trains in a tenth of a second (``overrides`` replace its params)."""
    from harness.workloads.tabular import Params, TabularWorkload

    return TabularWorkload(Params(**({"data": "sklearn:wine"} | overrides)))


def bare_state(**fields: Any) -> Any:
    """A :class:`~harness.core.state.TrainState` with no workload, model or data, for scripted
    monitor tests: set ``epoch``/``step`` and call the monitor's hooks directly."""
    from harness.core.state import Hparams, TrainState

    hparams = Hparams.build(1e-3, batch_size=1, batches_per_epoch=1)
    base: dict[str, Any] = {
        "workload": None,
        "model": None,
        "device": None,
        "hparams": hparams,
        "train_loader": None,
        "val_loader": None,
        "seed": 0,
    }
    return TrainState(**(base | fields))


def feed_step_losses(monitor: Any, epochs: list[list[float]], state: Any = None) -> Any:
    """Scripted training losses for a loss monitor, one list per epoch: ``on_step`` per loss,
    ``on_epoch_end`` per epoch, as the loop calls them; returns the state holding the findings.

    A monitor whose ``on_epoch_end`` names ``metrics`` gets the epoch's record as the loop
    builds it from the losses (``epoch``, ``loss``: their mean, ``steps``); one that does
    not is called with the state alone, as pluggy passes a hook only the arguments it names.
    """
    import inspect

    import torch

    state = state if state is not None else bare_state()
    takes_metrics = "metrics" in inspect.signature(monitor.on_epoch_end).parameters
    for epoch, losses in enumerate(epochs, start=1):
        state.epoch = epoch
        for loss in losses:
            state.step += 1
            monitor.on_step(state, torch.tensor(loss))
        if takes_metrics:
            mean = sum(losses) / len(losses) if losses else float("nan")
            monitor.on_epoch_end(state, {"epoch": epoch, "loss": mean, "steps": state.step})
        else:
            monitor.on_epoch_end(state)
    return state


def tiny_train_config(**overrides: Any) -> Any:
    from harness.scenario import TrainConfig

    base: dict[str, Any] = {"epochs": 2, "batch_size": 32, "lr": 1e-3, "device": "cpu", "warmup_ratio": 0.1}
    return TrainConfig(**(base | overrides))


def enabled_plugins(
    settings: dict[str, Any], *, monitors: bool = True, available: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validated params of ``settings`` (name -> ``true``/``false``/parameters, as in a
    scenario's ``plugins:``) plus the core (and, by default, the monitors that are on by
    default: an opt-in one such as ``memory`` is on only when ``settings`` names it).

    :param available: the plugins to choose from (default: every installed one).
    :raises KeyError: a name that is not among ``available``.
    :raises pydantic.ValidationError: invalid parameters (as a scenario would refuse them).
    """
    from harness.scenario.arms import catalogue
    from harness.scenario.params import UnknownPluginError, layered_params

    plugins = catalogue() if available is None else available
    try:
        return layered_params(plugins, settings, monitors=monitors)
    except UnknownPluginError as exc:
        raise KeyError(
            f"unknown plugin {exc.name!r}; installed: {sorted(plugins)} (pass the class in extra=)"
        ) from None


def make_state(workload: Any = None, seed: int = 0, run_dir: Path | None = None, **train: Any) -> Any:
    """A fresh, seeded TrainState (nothing trained yet) of ``workload``, any
    :class:`harness.Workload` instance (None: :func:`tiny_workload`).

    :param train: overrides of :func:`tiny_train_config` (``epochs``, ``lr``, ``batch_size``, ...).
    """
    from harness.core.loop import build_state, resolve_device

    cfg = tiny_train_config(**train)
    workload = workload if workload is not None else tiny_workload()
    return build_state(workload, cfg, seed, resolve_device(cfg.device), run_dir)


def run_tiny(plugins: dict[str, Any] | None = None, **options: Any) -> tuple[Any, str, dict[str, dict[str, int]]]:
    """:func:`train_tiny` as a tuple ``(state, status, trace)`` (same arguments)."""
    run = train_tiny(plugins, **options)
    return run.state, run.status, run.trace


# ------------------------------------------------------------------ for plugin authors


@dataclass
class TinyRun:
    """The outcome of :func:`train_tiny`: the final state, the status and the hook trace."""

    state: Any
    status: str
    trace: dict[str, dict[str, int]]

    @property
    def history(self) -> list[dict[str, Any]]:
        history: list[dict[str, Any]] = self.state.history  # state: a TrainState
        return history

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.state.findings]

    @property
    def lr_per_step(self) -> list[float]:
        lrs: list[float] = self.state.lr_per_step  # state: a TrainState
        return lrs

    def metric(self, name: str) -> list[Any]:
        """``name`` of every epoch's history record, in order (None where missing)."""
        return [record.get(name) for record in self.state.history]

    def finding_epochs(self, kind: str) -> list[int]:
        """The epochs at which a finding of ``kind`` was recorded."""
        return [f.epoch for f in self.state.findings if f.kind == kind]

    def acted(self, plugin: str, hook: str | None = None) -> bool:
        """Whether ``plugin`` acted (in ``hook``, or in any hook) according to the trace."""
        hooks = [hook] if hook else list(self.trace)
        return any(self.trace.get(h, {}).get(plugin, 0) > 0 for h in hooks)


def _available_with(extra: tuple[Any, ...]) -> dict[str, Any]:
    """Discovered plugins plus ``extra`` classes (or ``module:Class`` names) not installed."""
    from harness.core.pluginmanager import PluginInfo, check_plugin_class
    from harness.core.resolver import load_object
    from harness.scenario.arms import catalogue

    available = dict(catalogue())
    for item in extra:
        cls = load_object(item) if isinstance(item, str) else item
        cls = check_plugin_class(cls, repr(item))
        available[cls.name] = PluginInfo(cls.name, cls, "test")
    return available


def train_tiny(
    plugins: dict[str, Any] | None = None,
    *,
    extra: tuple[Any, ...] = (),
    observers: tuple[Any, ...] = (),
    monitors: bool = True,
    workload: Any = None,
    seed: int = 0,
    run_dir: Path | None = None,
    **train: Any,
) -> TinyRun:
    """Train ``workload`` with ``plugins`` on; for plugin authors, ``extra`` plugin classes need no install.

    :param plugins: name -> YAML-style setting (``true``, ``false`` or parameters).
    :param extra: plugin classes (or ``"module:Class"``) to make available for this run.
    :param workload: any :class:`harness.Workload` instance, built-in or your own (None:
        :func:`tiny_workload`); it is trained as given, from its own ``build_model()`` and
        ``datasets()``.
    :param train: training overrides (``epochs``, ``lr``, ``batch_size``, ...).
    :raises harness.core.pluginmanager.PluginConflictError: two of the plugins answer one
        firstresult hook and neither ``replaces`` the other (as a scenario would refuse).
    """
    from harness.core.loop import shutdown_loaders
    from harness.core.loop import train as train_loop
    from harness.core.pluginmanager import build_run_manager

    available = _available_with(extra)
    enabled = enabled_plugins(plugins or {}, monitors=monitors, available=available)
    pm, trace = build_run_manager(available, enabled, observers)
    state = make_state(workload, seed, run_dir, **train)
    try:
        status = train_loop(state, pm.hook)
    finally:  # no DataLoader worker outlives the run (persistent ones included)
        shutdown_loaders(state)
    return TinyRun(state, status, trace.as_dict())


REQUIRED_DOC_PARTS = ("Pathology:", "Signal:", "Fix:")


def check_plugin(cls: Any) -> list[str]:
    """Everything wrong with a plugin class, as readable lines (an empty list: fine).

    Checks: a harness ``Plugin`` subclass with a name and a valid kind; its module (or
    class) docstring names ``Pathology:``, ``Signal:`` and ``Fix:``; ``Params`` is a
    pydantic model that forbids unknown keys; every
    hookimpl matches a hookspec (a misspelt hook fails); monitors declare their
    ``finding_kinds``, bugs the kinds they show as (``shows_as``);
    ``replaces``/``slots``/``addresses`` are tuples of names; every ``suggestions`` entry is
    valid ``Params`` (for a fix that ``addresses`` findings).
    """
    from harness.core.plugin import Plugin

    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        return [f"{cls!r} is not a subclass of harness.core.plugin.Plugin"]
    label = f"{cls.__module__}.{cls.__qualname__}"
    problems = _identity_problems(cls) + _params_problems(cls) + _declaration_problems(cls) + _hook_problems(cls, label)
    return [f"{label}: {problem}" for problem in problems]


def _has_params_model(cls: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)


def _identity_problems(cls: Any) -> list[str]:
    """Its name, kind, and the docstring naming the pathology, signal and fix."""
    import sys

    from harness.core.plugin import KINDS

    problems: list[str] = []
    if not cls.name:
        problems.append("no `name`")
    if cls.kind not in KINDS:
        problems.append(f"kind {cls.kind!r} is not {', '.join(KINDS[:-1])} or {KINDS[-1]}")
    doc = (sys.modules[cls.__module__].__doc__ or "") + (cls.__doc__ or "")
    missing = [part for part in REQUIRED_DOC_PARTS if part not in doc]
    if missing:
        problems.append(f"the module docstring does not name {', '.join(missing)}")
    return problems


def _params_problems(cls: Any) -> list[str]:
    """``Params``: a pydantic model that forbids unknown keys."""
    if not _has_params_model(cls):
        return ["Params is not a pydantic model"]
    if cls.Params.model_config.get("extra") != "forbid":
        return ["Params must set model_config = ConfigDict(extra='forbid')"]
    return []


def _declaration_problems(cls: Any) -> list[str]:
    """What the conflict check, the doctor and the detector benchmark read: kinds, names, suggestions."""
    problems: list[str] = []
    if cls.kind == "monitor" and not cls.finding_kinds:
        problems.append("a monitor must declare its finding_kinds")
    if cls.kind == "bug" and not cls.shows_as:
        problems.append("a bug must declare the finding kinds it shows as (`shows_as`)")
    for attr in ("replaces", "slots", "addresses", "shows_as"):  # declarations: conflicts, doctor, benchmark
        value = getattr(cls, attr, ())
        if not (isinstance(value, tuple) and all(isinstance(v, str) and v for v in value)):
            problems.append(f"`{attr}` must be a tuple of names, not {value!r}")
        elif cls.name in value:
            problems.append(f"`{attr}` names the plugin itself")
    suggestions: object = getattr(cls, "suggestions", ({},))
    if not (isinstance(suggestions, tuple) and all(isinstance(s, dict) for s in suggestions)):
        problems.append(f"`suggestions` must be a tuple of parameter dicts, not {suggestions!r}")
    elif cls.addresses and _has_params_model(cls):  # doctor tries them
        for suggestion in suggestions:
            try:
                cls.Params.model_validate(suggestion)
            except Exception as exc:  # noqa: BLE001 - a suggestion doctor could not even try
                problems.append(f"suggestion {suggestion!r} is not valid Params: {exc}")
    return problems


def _acts_on_scripts(cls: Any) -> bool:
    """A fix that declares ``acts_on_scripts`` and overrides one of the base's ``script_*`` methods."""
    from harness.core.plugin import Plugin

    names = [n for n in dir(Plugin) if n.startswith("script_")]
    return bool(getattr(cls, "acts_on_scripts", False)) and any(
        getattr(cls, n) is not getattr(Plugin, n) for n in names
    )


def _hook_problems(cls: Any, label: str) -> list[str]:
    """At least one hookimpl, and every one matching a hookspec (pluggy's message names the hook)."""
    from harness.core.pluginmanager import HarnessPluginManager

    problems: list[str] = []
    hooks = [n for n in dir(cls) if hasattr(getattr(cls, n, None), "harness_impl")]
    if not hooks and not _acts_on_scripts(cls):
        problems.append("implements no hook (and acts on no script)")
    try:
        pm = HarnessPluginManager()
        pm.register(cls(cls.Params.model_construct()), name=cls.name or label)  # required params may lack defaults
        pm.check_pending()
    except Exception as exc:  # noqa: BLE001 - pluggy's message names the hook
        problems.append(str(exc))
    return problems
