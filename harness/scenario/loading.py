"""Loading and validating scenario files, completely, before any training starts.

A scenario is a workload, a base training config, named variants (plugin toggles and
parameters, optional training overrides, expectations) and seeds. Every problem of a file
is reported at once, each naming the file, the line/column and the field, in one
:class:`ScenarioError` (its ``errors``; the message lists up to :data:`MAX_ERRORS`).
YAML is read with a safe loader only (``!!python/object`` tags are refused) and
duplicate keys are errors, not silently overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core.metrics import metric_matches
from harness.core.resolver import OBJECT_REF
from harness.scenario.arms import script_fixes
from harness.scenario.errors import ScenarioError
from harness.scenario.expectations import Expectation, ExpectationSyntaxError, parse_expectation, parse_pass_rate
from harness.scenario.overrides import _apply_overrides, _apply_train_overrides, _split_overrides
from harness.scenario.params import (
    SettingError,
    apply_setting,
    default_settings,
    params_errors,
    unknown_key,
    validate_settings,
)
from harness.scenario.schema import (
    ExpectationSpec,
    Scenario,
    ScenarioSpec,
    TrainConfig,
    Variant,
    VariantSpec,
    WorkloadSpec,
)
from harness.scenario.script import (
    SCRIPT_WORKLOAD,
    ScriptParams,
    check_script_workload,
    check_watch_plugins,
    is_script,
    refuse_script_fields,
    script_run,
)
from harness.scenario.train_fields import train_error_message
from harness.scenario.validation import _check_specifier, _pydantic_errors, _validate_spec
from harness.scenario.yaml_source import _Problems, read_yaml

# ------------------------------------------------------------------ schema


# ------------------------------------------------------------------ resolved form


# ------------------------------------------------------------------ YAML with positions


# ------------------------------------------------------------------ loading


@dataclass
class _CheckedWorkload:
    """The scenario's workload as far as it validated: its class, its params and its metric names."""

    cls: Any = None
    params: BaseModel | None = None
    declared: tuple[str, ...] = ()  # its validation metrics

    @property
    def metrics(self) -> tuple[str, ...] | None:
        """What an expectation may name (None: unknown, so metric names are not checked)."""
        return None if self.params is None else self.declared + ("loss", "lr", "steps", "epoch")

    @property
    def script(self) -> BaseModel | None:
        """A script workload's params (None: a workload class)."""
        return self.params if self.cls is ScriptParams else None


@dataclass
class _VariantChecks:
    """What every variant is checked against: the plugins, the names expectations may use, the overrides."""

    available: dict[str, Any]
    metrics: tuple[str, ...] | None
    plugin_overrides: dict[str, Any]
    train_overrides: dict[str, Any]
    skipped: set[tuple[Any, ...]]  # expectations the schema check refused (reported already)
    script: BaseModel | None = None  # a script workload's params (:mod:`harness.scenario.script`)

    @property
    def finding_kinds(self) -> tuple[str, ...]:
        return tuple(sorted({k for info in self.available.values() for k in info.cls.finding_kinds}))


#: what errors of a scenario given as data (not a file) name as its file
DATA_SOURCE = "<scenario data>"


def load_scenario(
    source: str | Path | Mapping[str, Any],
    extra_plugins: tuple[str, ...] = (),
    plugin_overrides: dict[str, Any] | None = None,
) -> Scenario:
    """Read, validate and resolve a scenario file, or a scenario already parsed (the YAML's
    content as a mapping, validated exactly as a file is; its errors name :data:`DATA_SOURCE`
    and the field, without line numbers); raises :class:`ScenarioError` naming every
    problem found (its ``errors``), not only the first.

    :param plugin_overrides: plugin name -> YAML-style setting (``False`` switches it off,
        ``True``/a mapping switches it on with those parameters), applied on top of every
        variant's own plugins; ``harness run --without NAME`` passes ``{NAME: False}``.
        ``{"train": {FIELD: VALUE}}`` (``--set train.FIELD=VALUE``) overrides the
        training config of every variant, validated like the YAML's ``train:``.

    The schema is checked first, every error at once; the values it rejects are then left
    out (a field falls back to its default, an expectation is skipped) so that the rest of
    the file is still checked against the plugins, the workload and its metrics. A value
    whose absence makes the rest uncheckable (no ``workload.name``) stops there.
    """
    if isinstance(source, Mapping):
        path, data, root = Path(DATA_SOURCE), dict(source), None
    else:
        path = Path(source)
        data, root = read_yaml(path)
    problems = _Problems(path, root)
    if not isinstance(data, dict):
        empty = "the file is empty (or only comments); " if data is None else ""
        raise problems.fail((), f"{empty}a scenario must be a mapping with name, workload and variants")
    spec, schema_errors, skipped = _validate_spec(problems.fail, data)
    problems.errors += schema_errors
    if spec is None:
        raise problems.done()
    plugin_modules, available = _load_plugins(problems, spec.plugin_modules, extra_plugins)
    workload = _check_workload(problems, spec, data, available)
    overrides, train_overrides = _split_overrides(problems, plugin_overrides)
    checks = _VariantChecks(available, workload.metrics, overrides, train_overrides, skipped, workload.script)
    variants: dict[str, Variant] = {}
    for vname, vspec in spec.variants.items():
        variant = _resolve_variant(problems, checks, spec, vname, vspec)
        if variant is not None:
            variants[vname] = variant
    if problems.errors or workload.cls is None or workload.params is None:
        raise problems.done()
    return Scenario(
        path,
        spec.name,
        spec.description,
        spec.workload.name or SCRIPT_WORKLOAD,
        workload.params,
        variants,
        list(spec.seeds),
        data,
        plugin_modules=plugin_modules,
        metrics=workload.declared,
        key_metrics=workload.cls.declared_key_metrics(workload.params),
        source=spec.source,
    )


def _load_plugins(
    problems: _Problems, modules: list[str], extra_plugins: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``(plugin_modules, available)``: every module named (the workers import them) and the plugins
    a variant may use; a module that does not load is reported and left out."""
    from harness.core.pluginmanager import PluginLoadError, discover_plugins

    loadable: list[str] = []
    for i, dotted in enumerate(modules):
        if not OBJECT_REF.match(dotted):
            problems.report(
                problems.fail(("plugin_modules", i), f"expected 'package.module:PluginClass', got {dotted!r}")
            )
            continue
        try:
            discover_plugins((dotted,))
        except PluginLoadError as exc:
            problems.report(problems.fail(("plugin_modules", i), str(exc)))
            continue
        loadable.append(dotted)
    plugin_modules = tuple(dict.fromkeys((*extra_plugins, *modules)))
    try:
        available = discover_plugins(tuple(dict.fromkeys((*extra_plugins, *loadable))))
    except PluginLoadError as exc:
        problems.report(ScenarioError(problems.path, "plugins", str(exc)))
        raise problems.done() from None
    return plugin_modules, available


def _check_workload(
    problems: _Problems, spec: ScenarioSpec, data: dict[str, Any], available: dict[str, Any]
) -> _CheckedWorkload:
    """The scenario's workload: a script (:func:`_check_script`) or a workload class."""
    if is_script(spec):
        return _check_script(problems, spec, data, available)
    return _check_class_workload(problems, spec.workload)


def _check_class_workload(problems: _Problems, spec: WorkloadSpec) -> _CheckedWorkload:
    """The workload's class, params and metrics, every problem reported (what failed stays None)."""
    from harness.core.pluginmanager import PluginLoadError
    from harness.workloads import UnknownWorkload, workload_class

    checked = _CheckedWorkload()
    if spec.name is None:
        problems.report(
            problems.fail(("workload",), "give the workload's name (a Workload class), or a script or module")
        )
        return checked
    try:
        checked.cls = workload_class(spec.name)
    except (UnknownWorkload, PluginLoadError) as exc:
        problems.report(problems.fail(("workload", "name"), str(exc)))
        return checked
    checked.params = _workload_params(problems, checked.cls.Params, spec.params)
    if checked.params is not None:
        checked.declared = tuple(checked.cls.declared_metrics(checked.params))
        for name in checked.cls.declared_key_metrics(checked.params):
            if name != "loss" and not metric_matches(name, checked.declared):
                problems.report(
                    problems.fail(
                        ("workload", "name"),
                        f"workload {spec.name!r} declares key metric {name!r}, "
                        f"which is not among its metrics ({', '.join(checked.declared)})",
                    )
                )
    return checked


def _check_script(
    problems: _Problems, spec: ScenarioSpec, data: dict[str, Any], available: dict[str, Any]
) -> _CheckedWorkload:
    """A script workload (:mod:`harness.scenario.script`): its params and metric names, its plugins monitors only."""
    check_watch_plugins(problems, available, spec)
    params = check_script_workload(problems, spec, data)
    if params is None:
        return _CheckedWorkload()
    return _CheckedWorkload(ScriptParams, params, ScriptParams.declared_metrics(params))


def _workload_params(problems: _Problems, params_model: type[BaseModel], given: dict[str, Any]) -> BaseModel | None:
    """The workload's validated params. Every refused parameter is reported; the others are validated
    again without them (the metric names the expectations may use can depend on them)."""
    unknown = []
    if params_model.model_config.get("extra") != "forbid":  # any BaseModel may be a Params: unknown keys still fail
        known = set(params_model.model_fields) | {f.alias for f in params_model.model_fields.values() if f.alias}
        unknown = [key for key in given if key not in known]
        for key in unknown:
            problems.report(problems.fail(("workload", "params", key), unknown_key(key, sorted(known))))
    params = {k: v for k, v in given.items() if k not in unknown}
    try:
        return params_model.model_validate(params)
    except ValidationError as exc:
        problems.errors.extend(_pydantic_errors(problems.fail, ("workload", "params"), exc, params_model))
        refused = {err["loc"][0] for err in exc.errors() if err["loc"]}
    try:
        return params_model.model_validate({k: v for k, v in params.items() if k not in refused})
    except ValidationError:
        return None


def _resolve_variant(
    problems: _Problems, checks: _VariantChecks, spec: ScenarioSpec, vname: str, vspec: VariantSpec
) -> Variant | None:
    """One variant with its plugins, training config and expectations (None: one of them failed)."""
    enabled = _variant_plugins(problems, checks, spec.plugins, vspec.plugins, vname)
    train = _variant_train(problems, checks.train_overrides, spec.train, vname, vspec.train)
    expectations = _variant_expectations(problems, checks, vname, vspec.expect)
    script = None
    if is_script(spec):  # its files checked even when the workload's were not (every problem at once)
        params = checks.script if isinstance(checks.script, ScriptParams) else ScriptParams()
        fixes = script_fixes(checks.available, enabled or {})
        script = script_run(problems, params, spec, vname, vspec, checks.plugin_overrides, fixes)
        if script is None:
            return None
    else:
        refuse_script_fields(problems, vname, vspec)
    if enabled is None or train is None:
        return None
    return Variant(vname, vspec.description, enabled, train, expectations, script=script)


def _variant_plugins(
    problems: _Problems, checks: _VariantChecks, base: dict[str, Any], override: dict[str, Any], vname: str
) -> dict[str, BaseModel] | None:
    try:
        enabled = _resolve_plugins(problems.fail, checks.available, base, override, vname)
        if checks.plugin_overrides:
            enabled = _apply_overrides(problems.path, checks.available, enabled, checks.plugin_overrides)
        return _check_conflicts(problems.fail, checks.available, enabled, vname, bool(checks.plugin_overrides))
    except ScenarioError as exc:
        problems.report(exc)
        return None


def _variant_train(
    problems: _Problems, overrides: dict[str, Any], base: TrainConfig, vname: str, override: dict[str, Any]
) -> TrainConfig | None:
    try:
        train = TrainConfig.model_validate(base.model_dump() | override)
    except ValidationError as exc:
        where = ("variants", vname, "train")
        problems.errors.extend(problems.fail(where + tuple(e["loc"]), train_error_message(e)) for e in exc.errors())
        return None
    if not overrides:
        return train
    try:
        return _apply_train_overrides(problems.path, train, overrides)
    except ScenarioError as exc:
        problems.report(exc)
        return None


def _variant_expectations(
    problems: _Problems, checks: _VariantChecks, vname: str, entries: list[str | ExpectationSpec]
) -> list[Expectation]:
    expectations = []
    for i, entry in enumerate(entries):
        loc = ("variants", vname, "expect", i)
        if loc in checks.skipped:  # reported by the schema check
            continue
        try:
            expectations.append(_expectation(problems.fail, checks, loc, entry))
        except ScenarioError as exc:
            problems.report(exc)
    return expectations


def _expectation(fail: Any, checks: _VariantChecks, loc: tuple[Any, ...], entry: str | ExpectationSpec) -> Expectation:
    text, when = (entry, None) if isinstance(entry, str) else (entry.expect, (entry.when or {}).get("torch"))
    if when is not None:
        _check_specifier(fail, loc + ("when", "torch"), when)
    rate = None
    if isinstance(entry, ExpectationSpec) and entry.pass_rate is not None:
        try:
            rate = parse_pass_rate(entry.pass_rate)
        except ExpectationSyntaxError as exc:
            raise fail(loc + ("pass_rate",), str(exc)) from None
    try:
        return parse_expectation(
            text, metrics=checks.metrics, finding_kinds=checks.finding_kinds, when_torch=when, pass_rate=rate
        )
    except ExpectationSyntaxError as exc:
        raise fail(loc, str(exc)) from None


def _resolve_plugins(
    fail: Any, available: dict[str, Any], base: dict[str, Any], override: dict[str, Any], vname: str
) -> dict[str, BaseModel]:
    """Enabled plugins of a variant: defaults (core + monitors), then scenario, then variant entries.
    Raises one :class:`ScenarioError` for every entry that is wrong."""
    errors: list[ScenarioError] = []
    settings = default_settings(available)
    for layer, loc_prefix in ((base, ("plugins",)), (override, ("variants", vname, "plugins"))):
        for name, value in layer.items():
            try:
                apply_setting(settings, available, name, value)
            except (SettingError, TypeError) as exc:
                errors.append(fail(loc_prefix + (name,), str(exc)))
    enabled, refused = validate_settings(available, settings)
    for name, refusal in refused.items():
        where = ("variants", vname, "plugins", name) if name in override else ("plugins", name)
        errors += [
            fail(where + loc, message) for loc, message in params_errors(name, available[name].cls.Params, refusal)
        ]
    if errors:
        raise ScenarioError.of(errors)
    return enabled


def _check_conflicts(
    fail: Any, available: dict[str, Any], enabled: dict[str, BaseModel], vname: str, overridden: bool = False
) -> dict[str, BaseModel]:
    """``enabled`` without the plugins another enabled one ``replaces``; two plugins in one
    slot (the same firstresult hook) are an error naming the variant, both plugins and the hook."""
    from harness.core.pluginmanager import PluginConflictError, resolve_conflicts

    try:
        kept, _ = resolve_conflicts(available, enabled)
    except PluginConflictError as exc:
        how = " (with --with/--without/--set applied)" if overridden else ""
        raise fail(("variants", vname, "plugins"), f"variant {vname!r}{how}: {exc}") from None
    return kept
