"""Loading and validating scenario files, completely, before any training starts.

A scenario is a workload, a base training config, named variants (plugin toggles and
parameters, optional training overrides, expectations) and seeds. Every problem is
reported as one :class:`ScenarioError` naming the file, the line/column and the field.
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
    closest,
    parse_expectation,
    parse_pass_rate,
)
from harness.metrics import metric_matches
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


class ScenarioError(Exception):
    """A scenario that cannot run; the message names file, line:column and field."""

    def __init__(self, path: Path | str, field_path: str, message: str, line: int | None = None, col: int | None = None):
        self.path, self.field, self.line, self.col = str(path), field_path, line, col
        where = self.path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        super().__init__(f"{where}: {field_path + ': ' if field_path else ''}{message}")


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


def _locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int | None, int | None]:
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


def load_scenario(
    path: str | Path, extra_plugins: tuple[str, ...] = (), plugin_overrides: dict[str, Any] | None = None
) -> Scenario:
    """Read, validate and resolve a scenario file; raises :class:`ScenarioError`.

    :param plugin_overrides: plugin name -> YAML-style setting (``False`` switches it off,
        ``True``/a mapping switches it on with those parameters), applied on top of every
        variant's own plugins; ``harness run --without NAME`` passes ``{NAME: False}``.
        ``{"train": {FIELD: VALUE}}`` (``--set train.FIELD=VALUE``) overrides the
        training config of every variant, validated like the YAML's ``train:``.
    """
    from harness.pluginmanager import PluginLoadError, discover_plugins
    from harness.workloads import UnknownWorkload, workload_class

    path = Path(path)
    data, root = read_yaml(path)

    def fail(loc: tuple[Any, ...], message: str) -> ScenarioError:
        line, col = _locate(root, loc)
        return ScenarioError(path, _dotted(loc), message, line, col)

    if not isinstance(data, dict):
        empty = "the file is empty (or only comments); " if data is None else ""
        raise fail((), f"{empty}a scenario must be a mapping with name, workload and variants")
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        if err["type"] == "string_type":  # an expectation mapping: its own error says more than "not a string"
            err = next((e for e in errors if "ExpectationSpec" in e["loc"]), err)
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("str", "ExpectationSpec")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
            valid = _valid_keys_for(loc[:-1])
            message += closest(str(loc[-1]), valid)
        raise fail(loc, message) from None

    for i, dotted in enumerate(spec.plugin_modules):
        if not OBJECT_REF.match(dotted):
            raise fail(("plugin_modules", i), f"expected 'package.module:PluginClass', got {dotted!r}")
        try:
            discover_plugins((dotted,))
        except PluginLoadError as exc:
            raise fail(("plugin_modules", i), str(exc)) from None
    plugin_modules = tuple(dict.fromkeys((*extra_plugins, *spec.plugin_modules)))
    try:
        available = discover_plugins(plugin_modules)
    except PluginLoadError as exc:
        raise ScenarioError(path, "plugins", str(exc)) from None
    try:
        workload_cls = workload_class(spec.workload.name)
    except UnknownWorkload as exc:
        raise fail(("workload", "name"), str(exc)) from None
    except PluginLoadError as exc:
        raise fail(("workload", "name"), str(exc)) from None
    params_model = workload_cls.Params
    if params_model.model_config.get("extra") != "forbid":  # any BaseModel may be a Params: unknown keys still fail
        known = set(params_model.model_fields) | {f.alias for f in params_model.model_fields.values() if f.alias}
        for key in spec.workload.params:
            if key not in known:
                raise fail(("workload", "params", key), f"unknown field {key!r}{closest(str(key), sorted(known))}")
    try:
        workload_params = params_model.model_validate(spec.workload.params)
    except ValidationError as exc:
        raise _pydantic_fail(fail, ("workload", "params"), exc, params_model) from None
    workload_metrics = workload_cls.declared_metrics(workload_params)
    for name in workload_cls.declared_key_metrics(workload_params):
        if name != "loss" and not metric_matches(name, workload_metrics):
            raise fail(("workload", "name"), f"workload {spec.workload.name!r} declares key metric {name!r}, "
                       f"which is not among its metrics ({', '.join(workload_metrics)})")
    finding_kinds = tuple(sorted({k for info in available.values() for k in info.cls.finding_kinds}))
    metrics = tuple(workload_metrics) + ("loss", "lr", "steps", "epoch")

    plugin_overrides = dict(plugin_overrides or {})
    train_overrides = plugin_overrides.pop(TRAIN_OVERRIDE, None) or {}
    if not isinstance(train_overrides, dict):
        raise ScenarioError(path, "--set train", "expected --set train.FIELD=VALUE")
    variants: dict[str, Variant] = {}
    for vname, vspec in spec.variants.items():
        enabled = _resolve_plugins(fail, available, spec.plugins, vspec.plugins, vname)
        if plugin_overrides:
            enabled = _apply_overrides(path, available, enabled, plugin_overrides)
        enabled = _check_conflicts(fail, available, enabled, vname, bool(plugin_overrides))
        try:
            train = TrainConfig.model_validate(spec.train.model_dump() | vspec.train)
        except ValidationError as exc:
            raise _pydantic_fail(fail, ("variants", vname, "train"), exc, TrainConfig) from None
        if train_overrides:
            train = _apply_train_overrides(path, train, train_overrides)
        expectations = []
        for i, entry in enumerate(vspec.expect):
            text, when = (entry, None) if isinstance(entry, str) else (entry.expect, (entry.when or {}).get("torch"))
            if when is not None:
                _check_specifier(fail, ("variants", vname, "expect", i, "when", "torch"), when)
            rate = None
            if isinstance(entry, ExpectationSpec) and entry.pass_rate is not None:
                try:
                    rate = parse_pass_rate(entry.pass_rate)
                except ExpectationSyntaxError as exc:
                    raise fail(("variants", vname, "expect", i, "pass_rate"), str(exc)) from None
            try:
                expectations.append(
                    parse_expectation(text, metrics=metrics, finding_kinds=finding_kinds, when_torch=when, pass_rate=rate)
                )
            except ExpectationSyntaxError as exc:
                raise fail(("variants", vname, "expect", i), str(exc)) from None
        variants[vname] = Variant(vname, vspec.description, enabled, train, expectations)

    return Scenario(
        path, spec.name, spec.description, spec.workload.name, workload_params, variants, list(spec.seeds), data,
        plugin_modules=plugin_modules, metrics=tuple(workload_metrics),
        key_metrics=workload_cls.declared_key_metrics(workload_params),
    )


def _apply_overrides(
    path: Path, available: dict[str, Any], enabled: dict[str, BaseModel], overrides: dict[str, Any]
) -> dict[str, BaseModel]:
    """``enabled`` with command-line plugin overrides applied (errors name the option)."""
    enabled = dict(enabled)
    for name, value in overrides.items():
        option = {False: "--without", True: "--with"}.get(value, "--set") if isinstance(value, bool) else "--set"
        if name not in available:
            raise ScenarioError(path, f"{option} {name}", f"unknown plugin {name!r}{closest(name, list(available))}")
        setting = plugin_setting(value)
        if setting is None:
            if available[name].cls.kind == "core":
                raise ScenarioError(path, f"{option} {name}", f"plugin {name!r} is part of the core and cannot be switched off")
            enabled.pop(name, None)
            continue
        params_model = available[name].cls.Params
        previous = enabled[name].model_dump(exclude_unset=True) if name in enabled else {}
        try:
            enabled[name] = params_model.model_validate({**previous, **setting})
        except ValidationError as exc:
            err = exc.errors()[0]
            param = ".".join(str(p) for p in err["loc"])
            where = f"{option} {name}.{param}" if param else f"{option} {name}"
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                message = f"unknown parameter {key!r} of plugin {name!r}{closest(key, list(params_model.model_fields))}"
            raise ScenarioError(path, where, message) from None
    return enabled


TRAIN_OVERRIDE = "train"  # ``--set train.FIELD=VALUE`` sets a training field, not a plugin parameter


def _apply_train_overrides(path: Path, train: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """``train`` with ``--set train.FIELD=VALUE`` applied (errors name the option)."""
    try:
        return TrainConfig.model_validate(train.model_dump() | overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_name = ".".join(str(p) for p in err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown training field {field_name!r}{closest(field_name, list(TrainConfig.model_fields))}"
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


def _pydantic_fail(
    fail: Any, prefix: tuple[Any, ...], exc: ValidationError, model: type[BaseModel] | None = None
) -> ScenarioError:
    err = exc.errors()[0]
    loc = prefix + tuple(err["loc"])
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        message = f"unknown field {key!r}" + (closest(key, list(model.model_fields)) if model else "")
    return fail(loc, message)


def _check_specifier(fail: Any, loc: tuple[Any, ...], text: str) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        raise fail(loc, f"invalid version specifier {text!r} (e.g. '>=2.6' or '<2.6')") from None


def plugin_setting(value: Any) -> dict[str, Any] | None:
    """A YAML plugin entry as params (None: switched off). ``true``/``{}``/null: defaults."""
    if value is False:
        return None
    if value is True or value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError("expected true, false or a mapping of parameters")


def _resolve_plugins(
    fail: Any, available: dict[str, Any], base: dict[str, Any], override: dict[str, Any], vname: str
) -> dict[str, BaseModel]:
    """Enabled plugins of a variant: defaults (core + monitors), then scenario, then variant entries."""
    settings: dict[str, dict[str, Any] | None] = {
        name: {} for name, info in available.items() if info.cls.default_enabled()
    }
    for layer, loc_prefix in ((base, ("plugins",)), (override, ("variants", vname, "plugins"))):
        for name, value in layer.items():
            loc = loc_prefix + (name,)
            if name not in available:
                raise fail(loc, f"unknown plugin {name!r}{closest(name, list(available))}")
            try:
                setting = plugin_setting(value)
            except TypeError as exc:
                raise fail(loc, str(exc)) from None
            if setting is None and available[name].cls.kind == "core":
                raise fail(loc, f"plugin {name!r} is part of the core and cannot be switched off")
            previous = settings.get(name)
            settings[name] = None if setting is None else {**(previous or {}), **setting}
    enabled: dict[str, BaseModel] = {}
    for name, setting in settings.items():
        if setting is None:
            continue
        params_model = available[name].cls.Params
        try:
            enabled[name] = params_model.model_validate(setting)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ("variants", vname, "plugins", name) if name in override else ("plugins", name)
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                message = f"unknown parameter {key!r} of plugin {name!r}{closest(key, list(params_model.model_fields))}"
            raise fail(where + tuple(err["loc"]), message) from None
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
