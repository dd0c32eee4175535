"""Loading and validating scenario files, completely, before any training starts.

A scenario is a workload, a base training config, named variants (plugin toggles and
parameters, optional training overrides, expectations) and seeds. Every problem of a file
is reported at once, each naming the file, the line/column and the field, in one
:class:`ScenarioError` (its ``errors``; the message lists up to :data:`MAX_ERRORS`).
YAML is read with a safe loader only (``!!python/object`` tags are refused) and
duplicate keys are errors, not silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from harness.expectations import (
    Expectation,
    ExpectationSyntaxError,
    parse_expectation,
    parse_pass_rate,
)
from harness.metrics import metric_matches
from harness.params import (
    SettingError,
    apply_setting,
    default_settings,
    error_message,
    params_errors,
    resolve_params,
    unknown_key,
    validate_settings,
)
from harness.resolver import OBJECT_REF

# ------------------------------------------------------------------ schema


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # `lr: .inf` is an error, not a run


class TrainConfig(Strict):
    epochs: PositiveInt = Field(5, description="training epochs")
    batch_size: PositiveInt = Field(64, description="batch size per step")
    lr: PositiveFloat = Field(2e-5, description="base learning rate (plugins may scale it)")
    weight_decay: NonNegativeFloat = Field(0.01, description="AdamW weight decay")
    accumulation_steps: PositiveInt = Field(1, description="batches per optimizer step")
    warmup_ratio: float = Field(0.1, ge=0, le=1, description="share of steps spent warming up")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where to train")
    threads: PositiveInt | None = Field(None, description="torch CPU threads (default: torch's choice)")


class WorkloadSpec(Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ExpectationSpec(Strict):
    expect: str
    when: dict[Literal["torch"], str] | None = None
    pass_rate: str | float | None = None  # share of seeds that must pass, e.g. ">= 0.8"


class VariantSpec(Strict):
    description: str = ""
    plugins: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    expect: list[str | ExpectationSpec] = Field(default_factory=list)


class ScenarioSpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    workload: WorkloadSpec
    train: TrainConfig = Field(default_factory=TrainConfig)
    plugins: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, VariantSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    # plugins that are not installed: "package.module:Class", imported (its code runs,
    # as a conftest's does) before validation, in the CLI's and every worker's process
    plugin_modules: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------ resolved form


@dataclass
class Variant:
    name: str
    description: str
    plugins: dict[str, BaseModel]  # enabled plugin name -> validated params
    train: TrainConfig
    expectations: list[Expectation]


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


MAX_ERRORS = 10  # a file with more problems lists this many, then how many more


class ScenarioError(Exception):
    """A scenario that cannot run; the message names file, line:column and field.

    :func:`load_scenario` reports every problem it finds at once: ``errors`` holds one
    ScenarioError per problem (in the order of the file's lines), and the message is their
    lines joined, at most :data:`MAX_ERRORS` of them then ``... and N more``. ``path``,
    ``field``, ``line``, ``col`` and ``message`` are the first error's, so code written for
    one error keeps working; a single error's ``errors`` is ``[itself]``.
    """

    def __init__(self, path: Path | str, field_path: str, message: str, line: int | None = None, col: int | None = None):
        self.path, self.field, self.line, self.col, self.message = str(path), field_path, line, col, message
        where = self.path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        self.text = f"{where}: {field_path + ': ' if field_path else ''}{message}"
        self.errors: list[ScenarioError] = [self]
        super().__init__(self.text)

    @classmethod
    def of(cls, errors: list[ScenarioError], limit: int = MAX_ERRORS) -> ScenarioError:
        """One error standing for ``errors`` (each possibly a collection itself), sorted by line."""
        flat: list[ScenarioError] = []
        for error in errors:
            for one in error.errors:
                if all(one.text != seen.text for seen in flat):
                    flat.append(one)
        flat.sort(key=lambda e: (e.line is not None, e.line or 0, e.col or 0))
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        combined = cls(first.path, first.field, first.message, first.line, first.col)
        combined.errors = flat
        lines = [e.text for e in flat[:limit]]
        if len(flat) > limit:
            lines.append(f"{first.path}: ... and {len(flat) - limit} more error(s)")
        combined.args = ("\n".join(lines),)
        return combined

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else self.text


# ------------------------------------------------------------------ YAML with positions


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, and reports a bad scalar with its position.

    PyYAML's own constructors raise bare ``ValueError``s for tagged scalars they cannot
    read (``!!int x``, ``!!binary %%``) and a ``TypeError`` for a list used as a key;
    both become ``ConstructorError``s carrying the node's line and column.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.tag.rsplit(':', 1)[-1]} value {node.value!r}: {exc}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value, not {type(key).__name__}", key_node.start_mark
                ) from None
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
    """Line and column (1-based) of the deepest node on ``loc`` that exists."""
    node, mark = root, (root.start_mark if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    node, mark = value_node, key_node.start_mark
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ------------------------------------------------------------------ loading


def _line_col(text: str | bytes, offset: int) -> tuple[int, int]:
    """1-based line and column of a character (or byte) offset."""
    newline = b"\n" if isinstance(text, bytes) else "\n"
    before = text[:offset]
    return before.count(newline) + 1, offset - (before.rfind(newline) + 1) + 1  # type: ignore[arg-type]


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(raw, exc.start)
        raise ScenarioError(path, "", f"invalid YAML: not UTF-8 text ({exc.reason} at byte {exc.start})", line, col) from None
    try:
        node = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        if context and problem.startswith("but "):  # "expected a single document ..., but found another"
            problem = f"{context}, {problem}"
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        if isinstance(exc, yaml.reader.ReaderError):  # a control character: no mark, a position
            line, col = _line_col(text, exc.position)
            problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}" if isinstance(exc.character, int) else str(exc)
        if problem.startswith("could not determine a constructor for the tag"):
            tag = str(getattr(exc, "problem", "")).split("'")[1] if "'" in problem else "?"
            tag = tag.replace("tag:yaml.org,2002:", "!!")
            problem = f"YAML tag {tag!r} is refused: a scenario is plain data" + (
                " (python tags would run code)" if "python/" in tag else ""
            )
        raise ScenarioError(path, "", f"invalid YAML: {problem}", line, col) from None
    except RecursionError:
        raise ScenarioError(path, "", "invalid YAML: nested too deeply") from None
    return data, node


@dataclass
class _Problems:
    """Every problem found in one file, each located by its YAML node; raised together at the end."""

    path: Path
    root: yaml.Node | None
    errors: list[ScenarioError] = field(default_factory=list)

    def fail(self, loc: tuple[Any, ...], message: str) -> ScenarioError:
        line, col = locate(self.root, loc)
        return ScenarioError(self.path, _dotted(loc), message, line, col)

    def report(self, error: ScenarioError) -> None:
        self.errors.extend(error.errors)

    def done(self) -> ScenarioError:
        return ScenarioError.of(self.errors)


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


@dataclass
class _VariantChecks:
    """What every variant is checked against: the plugins, the names expectations may use, the overrides."""

    available: dict[str, Any]
    metrics: tuple[str, ...] | None
    finding_kinds: tuple[str, ...]
    plugin_overrides: dict[str, Any]
    train_overrides: dict[str, Any]
    skipped: set[tuple[Any, ...]]  # expectations the schema check refused (reported already)


def load_scenario(
    path: str | Path, extra_plugins: tuple[str, ...] = (), plugin_overrides: dict[str, Any] | None = None
) -> Scenario:
    """Read, validate and resolve a scenario file; raises :class:`ScenarioError` naming every
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
    path = Path(path)
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
    workload = _check_workload(problems, spec.workload)
    finding_kinds = tuple(sorted({k for info in available.values() for k in info.cls.finding_kinds}))
    overrides, train_overrides = _split_overrides(problems, plugin_overrides)
    checks = _VariantChecks(available, workload.metrics, finding_kinds, overrides, train_overrides, skipped)
    variants: dict[str, Variant] = {}
    for vname, vspec in spec.variants.items():
        variant = _resolve_variant(problems, checks, spec, vname, vspec)
        if variant is not None:
            variants[vname] = variant
    if problems.errors or workload.cls is None or workload.params is None:
        raise problems.done()
    return Scenario(
        path, spec.name, spec.description, spec.workload.name, workload.params, variants, list(spec.seeds), data,
        plugin_modules=plugin_modules, metrics=workload.declared,
        key_metrics=workload.cls.declared_key_metrics(workload.params),
    )


def _load_plugins(
    problems: _Problems, modules: list[str], extra_plugins: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """``(plugin_modules, available)``: every module named (the workers import them) and the plugins
    a variant may use; a module that does not load is reported and left out."""
    from harness.pluginmanager import PluginLoadError, discover_plugins

    loadable: list[str] = []
    for i, dotted in enumerate(modules):
        if not OBJECT_REF.match(dotted):
            problems.report(problems.fail(("plugin_modules", i), f"expected 'package.module:PluginClass', got {dotted!r}"))
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


def _check_workload(problems: _Problems, spec: WorkloadSpec) -> _CheckedWorkload:
    """The workload's class, params and metrics, every problem reported (what failed stays None)."""
    from harness.pluginmanager import PluginLoadError
    from harness.workloads import UnknownWorkload, workload_class

    checked = _CheckedWorkload()
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
                problems.report(problems.fail(("workload", "name"), f"workload {spec.name!r} declares key metric {name!r}, "
                                f"which is not among its metrics ({', '.join(checked.declared)})"))
    return checked


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


def _split_overrides(problems: _Problems, overrides: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(plugin overrides, train overrides)`` of :func:`load_scenario`'s ``plugin_overrides``."""
    plugin_overrides = dict(overrides or {})
    train_overrides = plugin_overrides.pop(TRAIN_OVERRIDE, None) or {}
    if not isinstance(train_overrides, dict):
        problems.report(ScenarioError(problems.path, "--set train", "expected --set train.FIELD=VALUE"))
        train_overrides = {}
    return plugin_overrides, train_overrides


def _resolve_variant(
    problems: _Problems, checks: _VariantChecks, spec: ScenarioSpec, vname: str, vspec: VariantSpec
) -> Variant | None:
    """One variant with its plugins, training config and expectations (None: one of them failed)."""
    enabled = _variant_plugins(problems, checks, spec.plugins, vspec.plugins, vname)
    train = _variant_train(problems, checks.train_overrides, spec.train, vname, vspec.train)
    expectations = _variant_expectations(problems, checks, vname, vspec.expect)
    if enabled is None or train is None:
        return None
    return Variant(vname, vspec.description, enabled, train, expectations)


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
        problems.errors.extend(_pydantic_errors(problems.fail, ("variants", vname, "train"), exc, TrainConfig))
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


_UNION_TAGS = {"str": ("str", "ExpectationSpec"), "pass_rate": ("str", "float")}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location without the union members it tried (``expect.0.ExpectationSpec.when``
    -> ``expect.0.when``; ``pass_rate.float`` -> ``pass_rate``)."""
    out: list[Any] = []
    for part in loc:
        previous = out[-1] if out else None
        if isinstance(previous, int) and len(out) >= 2 and out[-2] == "expect" and part in _UNION_TAGS["str"]:
            continue
        if previous == "pass_rate" and part in _UNION_TAGS["pass_rate"]:
            continue
        out.append(part)
    return tuple(out)


def _schema_errors(exc: ValidationError) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """``(location, error)`` per problem: one per location, a union's "not a string" left out where
    the other member says more (an expectation mapping with an unknown key)."""
    chosen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for err in exc.errors():
        loc = _clean_loc(tuple(err["loc"]))
        if loc not in chosen or chosen[loc]["type"] == "string_type":
            chosen[loc] = err
    out = []
    for loc, err in chosen.items():
        more_specific = any(other != loc and other[: len(loc)] == loc for other in chosen)
        if err["type"] == "string_type" and more_specific:
            continue
        out.append((loc, err))
    return out


_PLACEHOLDER = "status == ok"  # stands in for an expectation the schema refused (skipped afterwards)


def _leave_out(data: Any, loc: tuple[Any, ...]) -> bool:
    """Remove the value at ``loc`` from ``data`` so that the rest validates (its default applies); an
    expectation becomes a placeholder (skipped later), any other list goes as a whole. False when
    the value is required (missing) or cannot be removed."""
    if not loc:
        return False
    *parents, last = loc
    node = data
    trail: list[tuple[Any, Any]] = []
    for part in parents:
        trail.append((node, part))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        if parents and parents[-1] == "expect":
            node[last] = _PLACEHOLDER
            return True
        owner, key = trail[-1] if trail else (None, None)
        if isinstance(owner, dict) and key in owner:
            del owner[key]
            return True
    return False


def _validate_spec(fail: Any, data: dict[str, Any]) -> tuple[ScenarioSpec | None, list[ScenarioError], set[tuple[Any, ...]]]:
    """The schema check: ``(spec, errors, skipped expectation locations)``. Every schema error is
    reported; when the refused values can be left out, the rest is validated again and its spec
    returned for the checks that follow (None when it cannot be)."""
    import copy

    try:
        return ScenarioSpec.model_validate(data), [], set()
    except ValidationError as exc:
        found = _schema_errors(exc)
    errors, skipped = [], set()
    repaired, repairable = copy.deepcopy(data), True
    for loc, err in found:
        errors.append(fail(loc, error_message(err, _valid_keys_for(loc[:-1]))))
        if err["type"] == "missing" or not _leave_out(repaired, loc):
            repairable = False
        elif len(loc) >= 4 and loc[0] == "variants" and loc[2] == "expect" and isinstance(loc[3], int):
            skipped.add(loc[:4])
    if not repairable:
        return None, errors, skipped
    try:
        return ScenarioSpec.model_validate(repaired), errors, skipped
    except ValidationError:  # what is left depends on what was refused: the errors above say it
        return None, errors, skipped


def _apply_overrides(
    path: Path, available: dict[str, Any], enabled: dict[str, BaseModel], overrides: dict[str, Any]
) -> dict[str, BaseModel]:
    """``enabled`` with command-line plugin overrides applied (errors name the option)."""
    enabled = dict(enabled)
    for name, value in overrides.items():
        option = {False: "--without", True: "--with"}.get(value, "--set") if isinstance(value, bool) else "--set"
        settings = {name: enabled[name].model_dump(exclude_unset=True)} if name in enabled else {}
        try:
            apply_setting(settings, available, name, value)
        except SettingError as exc:
            raise ScenarioError(path, f"{option} {name}", str(exc)) from None
        if settings[name] is None:
            enabled.pop(name, None)
            continue
        try:
            enabled[name] = resolve_params(available, settings)[name]
        except ValidationError as exc:
            loc, message = params_errors(name, available[name].cls.Params, exc)[0]
            param = ".".join(str(p) for p in loc)
            raise ScenarioError(path, f"{option} {name}.{param}" if param else f"{option} {name}", message) from None
    return enabled


TRAIN_OVERRIDE = "train"  # ``--set train.FIELD=VALUE`` sets a training field, not a plugin parameter


def _apply_train_overrides(path: Path, train: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """``train`` with ``--set train.FIELD=VALUE`` applied (errors name the option)."""
    try:
        return TrainConfig.model_validate(train.model_dump() | overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_name = ".".join(str(p) for p in err["loc"])
        message = error_message(err, TrainConfig.model_fields, "training field")
        raise ScenarioError(path, f"--set train.{field_name}", message) from None


def parse_plugin_options(
    with_: tuple[str, ...] = (), without: tuple[str, ...] = (), sets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``--with``/``--without``/``--set`` as ``plugin_overrides`` for :func:`load_scenario`.

    ``--with NAME`` is ``{NAME: true}``, ``--without NAME`` ``{NAME: false}`` and
    ``--set NAME.PARAM=VALUE`` ``{NAME: {PARAM: VALUE}}`` (VALUE read as YAML: ``0.1``,
    ``true``, ``null``, ``step``); several ``--set`` of one plugin merge.
    ``--set train.FIELD=VALUE`` sets a training field (``{"train": {FIELD: VALUE}}``). Plugin and
    parameter names are checked by :func:`load_scenario`, like the YAML's. Raises
    ``ValueError`` for a malformed ``--set`` or a plugin both switched on and off.
    """
    if TRAIN_OVERRIDE in with_ or TRAIN_OVERRIDE in without:
        raise ValueError(f"'{TRAIN_OVERRIDE}' is not a plugin: use --set train.FIELD=VALUE")
    overrides: dict[str, Any] = {name: False for name in without}
    for name in with_:
        if overrides.get(name) is False:
            raise ValueError(f"--with {name} and --without {name} contradict each other")
        overrides[name] = True
    for item in sets:
        target, eq, raw = item.partition("=")
        name, dot, param = target.strip().partition(".")
        if not (eq and dot and name and param):
            raise ValueError(
                f"--set {item}: expected PLUGIN.PARAM=VALUE or train.FIELD=VALUE, e.g. --set grad_clip.max_norm=0.5"
            )
        if overrides.get(name) is False:
            raise ValueError(f"--set {item} and --without {name} contradict each other")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        previous = overrides.get(name)
        overrides[name] = {**(previous if isinstance(previous, dict) else {}), param: value}
    return overrides


def _valid_keys_for(loc: tuple[Any, ...]) -> list[str]:
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): ScenarioSpec,
        ("train",): TrainConfig,
        ("workload",): WorkloadSpec,
    }
    if len(loc) == 2 and loc[0] == "variants":
        return list(VariantSpec.model_fields)
    if len(loc) >= 4 and loc[0] == "variants" and loc[2] == "expect":
        return list(ExpectationSpec.model_fields)
    model = models.get(tuple(loc))
    return list(model.model_fields) if model else []


def _pydantic_errors(fail: Any, prefix: tuple[Any, ...], exc: ValidationError, model: type[BaseModel]) -> list[ScenarioError]:
    """One ScenarioError per error of ``exc`` (``model`` validated at ``prefix``)."""
    return [fail(prefix + tuple(err["loc"]), error_message(err, model.model_fields)) for err in exc.errors()]


def _check_specifier(fail: Any, loc: tuple[Any, ...], text: str) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise fail(loc, f"invalid version specifier {text!r} (e.g. '>=2.6' or '<2.6')") from None


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
    for name, exc in refused.items():
        where = ("variants", vname, "plugins", name) if name in override else ("plugins", name)
        errors += [fail(where + loc, message) for loc, message in params_errors(name, available[name].cls.Params, exc)]
    if errors:
        raise ScenarioError.of(errors)
    return enabled


def _check_conflicts(
    fail: Any, available: dict[str, Any], enabled: dict[str, BaseModel], vname: str, overridden: bool = False
) -> dict[str, BaseModel]:
    """``enabled`` without the plugins another enabled one ``replaces``; two plugins in one
    slot (the same firstresult hook) are an error naming the variant, both plugins and the hook."""
    from harness.pluginmanager import PluginConflictError, resolve_conflicts

    try:
        kept, _ = resolve_conflicts(available, enabled)
    except PluginConflictError as exc:
        how = " (with --with/--without/--set applied)" if overridden else ""
        raise fail(("variants", vname, "plugins"), f"variant {vname!r}{how}: {exc}") from None
    return kept
