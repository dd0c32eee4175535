"""Finding plugins, and building the pluggy manager of one run.

Built-in plugins are listed by their families (``harness.plugins.fixes``/``monitors``/``bugs``,
found through :data:`BUILTIN_PLUGINS_REF`) and loaded by the same code as third-party ones from the ``harness`` entry-point group. For each run a fresh pluggy
manager registers one instance of every enabled plugin; a plugin switched off is
*blocked* (``set_blocked``), never skipped by an ``if`` in the loop. Every hook
implementation is wrapped so the run records which plugin acted on which hook (the
trace) and an exception names the plugin and hook it came from.

No silent conflicts: every firstresult hook a plugin answers (not as a wrapper) is a
*slot*, plus the ``slots`` it declares; two enabled plugins (besides the core) in one
slot are a :class:`PluginConflictError` unless one declares it ``replaces`` the other,
which switches the other off (:func:`resolve_conflicts`). Scenario validation, the
ablation, ``harness.testing`` and the Trainer adapter all go through it, and so does
:func:`build_run_manager` itself.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pluggy

from harness.core import hookspecs
from harness.core.findings import ROLES, FindingKind, UnknownKindError, check_kinds, declared_kinds
from harness.core.plugin import Plugin
from harness.core.resolver import LoadError, entry_points, load_object

ENTRY_POINT_GROUP = "harness"

#: the core's own plugin (its plain answers to every firstresult hook); the only one it names
CORE_PLUGINS: tuple[str, ...] = ("harness.core.defaults:Defaults",)
#: where the built-in fixes, monitors and bugs are listed: each family lists its own
#: (``plugins/fixes``, ``plugins/monitors``, ``plugins/bugs``); the core names none of them
BUILTIN_PLUGINS_REF = "harness.plugins:BUILTINS"
#: family folder -> the kind its plugins must declare
FAMILY_KINDS_REF = "harness.plugins:FAMILY_KINDS"
#: finding kinds raised by the harness itself, not by a monitor (a crashing plugin)
CORE_FINDING_KINDS: tuple[str, ...] = ()


class PluginError(Exception):
    """An exception raised inside a plugin's hook implementation."""

    def __init__(self, plugin: str, hook: str, original: BaseException) -> None:
        super().__init__(f"plugin {plugin!r} failed in hook {hook!r}: {type(original).__name__}: {original}")
        self.plugin = plugin
        self.hook = hook
        self.original = original


PluginLoadError = LoadError  # a plugin that cannot be imported or is not a valid harness plugin


class PluginConflictError(Exception):
    """Two enabled plugins occupy one slot (answer one firstresult hook) and neither replaces the other."""

    def __init__(self, plugins: tuple[str, str], slot: str, message: str | None = None) -> None:
        self.plugins, self.slot = plugins, slot
        a, b = plugins
        what = f"answer the firstresult hook {slot!r}" if slot in FIRSTRESULT_HOOKS else f"occupy the slot {slot!r}"
        super().__init__(
            message
            or f"plugins {a!r} and {b!r} both {what}, so one would silently win: "
            f"switch one off, or declare in one of them that it replaces the other (replaces = ({b!r},))"
        )


@dataclass(frozen=True)
class PluginInfo:
    """What is known about a plugin before any run: its class and where it came from."""

    name: str
    cls: type[Plugin]
    source: str  # "builtin" or the distribution that registered the entry point

    @property
    def kind(self) -> str:
        return self.cls.kind


def check_plugin_class(obj: Any, origin: str) -> type[Plugin]:
    """``obj`` if it is a named harness :class:`Plugin` subclass (``origin`` names it in the error);
    a built-in must also declare the kind of the family folder it lives in."""
    if not (isinstance(obj, type) and issubclass(obj, Plugin) and obj.name):
        raise PluginLoadError(f"{origin} is not a harness Plugin subclass with a name")
    family = _family_of(origin)
    if family is not None and obj.kind != family[1]:
        raise PluginLoadError(
            f"plugin {obj.name!r} ({origin}) declares kind {obj.kind!r} but lives in plugins/{family[0]}/, "
            f"whose plugins are of kind {family[1]!r}"
        )
    return obj


def _family_of(origin: str) -> tuple[str, str] | None:
    """``(family folder, its kind)`` of a built-in plugin reference, else None."""
    parts = origin.split(":")[0].split(".")
    if len(parts) < 4 or parts[:2] != ["harness", "plugins"]:
        return None
    kinds: dict[str, str] = load_object(FAMILY_KINDS_REF)
    return (parts[2], kinds[parts[2]]) if parts[2] in kinds else None


@functools.cache
def builtin_plugins() -> tuple[str, ...]:
    """``module:Class`` of every built-in: the core's, then each family's own list."""
    return CORE_PLUGINS + tuple(load_object(BUILTIN_PLUGINS_REF))


@functools.cache
def _builtin_infos() -> tuple[PluginInfo, ...]:
    """The built-ins, imported and checked once per process."""
    return tuple(
        PluginInfo(cls.name, cls, "builtin")
        for cls in (check_plugin_class(load_object(d), d) for d in builtin_plugins())
    )


def discover_plugins(extra: tuple[str, ...] = ()) -> dict[str, PluginInfo]:
    """Every plugin: the built-ins, the ``harness`` entry points, and ``extra`` dotted names.

    Each plugin's ``shows_as`` and ``addresses`` must name finding kinds some monitor
    declares (:func:`finding_kinds`): an unknown kind is a :class:`PluginLoadError` naming it.
    """
    found: dict[str, PluginInfo] = {}

    def add(cls: type[Plugin], source: str) -> None:
        if cls.name in found and found[cls.name].cls is not cls:
            raise PluginLoadError(f"two plugins are named {cls.name!r}: {found[cls.name].source} and {source}")
        found[cls.name] = PluginInfo(cls.name, cls, source)

    for info in _builtin_infos():
        add(info.cls, info.source)
    for ep in entry_points(ENTRY_POINT_GROUP):
        add(check_plugin_class(load_object(ep.target), f"entry point {ep.name!r}"), ep.source)
    for dotted in extra:
        add(check_plugin_class(load_object(dotted), dotted), dotted)
    check_finding_kinds(found)
    return found


def finding_kinds(available: Mapping[str, PluginInfo]) -> frozenset[str]:
    """The one registry of finding kinds: every kind a monitor declares it emits
    (``finding_kinds``), plus the harness's own (:data:`CORE_FINDING_KINDS`)."""
    return frozenset(CORE_FINDING_KINDS).union(*(info.cls.finding_kinds for info in available.values()))


@functools.cache
def installed_kinds() -> dict[str, FindingKind]:
    """The kinds of every installed plugin (built-ins and entry points), read once per process."""
    return declared_kinds(discover_plugins())


def kinds_with(role: str | None = None, *, lr_type: bool | None = None) -> tuple[str, ...]:
    """The installed kinds that have ``role`` (one of :data:`ROLES`) or, with ``lr_type=True``, the
    LR-type kinds; sorted by name."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    kinds = installed_kinds().values()
    return tuple(
        sorted(k.name for k in kinds if (role is None or role in k.roles) and (lr_type is None or k.lr_type == lr_type))
    )


def check_finding_kinds(available: Mapping[str, PluginInfo]) -> None:
    """Refuse a plugin whose ``shows_as``/``addresses`` names a kind no monitor emits."""
    known = finding_kinds(available)
    for info in available.values():
        for field in ("shows_as", "addresses"):
            try:
                check_kinds(getattr(info.cls, field), known, f"plugin {info.name!r} ({info.source}): {field}")
            except UnknownKindError as exc:
                raise PluginLoadError(str(exc)) from None


FIRSTRESULT_HOOKS: frozenset[str] = frozenset(
    name
    for name in dir(hookspecs)
    if getattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec", {}).get("firstresult")
)


def answered_hooks(cls: type[Plugin], unused: frozenset[str] = frozenset()) -> frozenset[str]:
    """The firstresult hooks plugin class ``cls`` answers itself, less the ``unused`` ones.

    Wrappers (``wrapper=True``/``hookwrapper=True``) only wrap the answer and do not count.
    """
    found = set()
    for attr in dir(cls):
        opts = getattr(getattr(cls, attr, None), f"{hookspecs.PROJECT}_impl", None)
        if not isinstance(opts, dict) or opts.get("wrapper") or opts.get("hookwrapper"):
            continue
        hook = opts.get("specname") or attr
        if hook in FIRSTRESULT_HOOKS:
            found.add(hook)
    return frozenset(found - set(unused))


def _unused_hooks(cls: type[Plugin], params: Any) -> frozenset[str]:
    """:meth:`Plugin.unused_hooks` for ``params``, without running the plugin's ``__init__``
    (validation must not: a plugin that fails to construct fails in its run, naming itself)."""
    probe = cls.__new__(cls)
    probe.params = params
    try:
        return frozenset(probe.unused_hooks())
    except Exception:  # noqa: BLE001 - it needs its __init__: assume every hook is used
        return frozenset()


def plugin_slots(cls: type[Plugin], params: Any = None) -> frozenset[str]:
    """The slots a plugin with ``params`` occupies: the firstresult hooks it answers (less
    those its parameters leave unused, :meth:`Plugin.unused_hooks`) and its ``slots``.

    The core plugin occupies none (it answers every firstresult hook last, by design).
    """
    if cls.kind == "core":
        return frozenset()
    params = params if params is not None else cls.Params.model_construct()
    return answered_hooks(cls, _unused_hooks(cls, params)) | frozenset(cls.slots)


def resolve_conflicts(
    available: Mapping[str, PluginInfo], enabled: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``enabled`` without the plugins an enabled plugin replaces, and ``{replaced: replacer}``.

    :raises PluginConflictError: two remaining plugins (besides the core) occupy one slot
        (:func:`plugin_slots`): the first two in ``available`` order are named.
    """
    superseded: dict[str, str] = {}
    for name in enabled:
        info = available.get(name)
        for other in info.cls.replaces if info is not None else ():
            if other in enabled and other != name:
                if other in available and available[other].kind == "core":
                    raise PluginConflictError(
                        (name, other), "replaces", f"plugin {name!r} cannot replace the core plugin {other!r}"
                    )
                superseded.setdefault(other, name)
    for replaced, replacer in superseded.items():
        if superseded.get(replacer) == replaced:
            raise PluginConflictError(
                (replacer, replaced),
                "replaces",
                f"plugins {replacer!r} and {replaced!r} each declare that they replace the other",
            )
    kept = {name: params for name, params in enabled.items() if name not in superseded}
    occupants: dict[str, str] = {}
    for name, info in available.items():  # in available order (a missing plugin: build_run_manager names it)
        if name not in kept:
            continue
        for slot in sorted(plugin_slots(info.cls, kept[name])):
            if slot in occupants:
                raise PluginConflictError((occupants[slot], name), slot)
            occupants[slot] = name
    return kept, superseded


def _named_terms(plugin: str, result: Any) -> Any:
    """``extra_losses``' result as named terms: a bare tensor is the term named after its plugin."""
    if result is None or (isinstance(result, Mapping) and all(isinstance(k, str) for k in result)):
        return result
    if hasattr(result, "backward"):  # a tensor: an unnamed term
        return {plugin: result}
    raise TypeError(
        f"extra_losses must return {{name: loss tensor}}, a loss tensor or None, not {type(result).__name__}"
    )


#: adapters of a hook implementation's result (a wrong shape fails naming the plugin)
RESULT_ADAPTERS = {"extra_losses": _named_terms}


class HookTrace:
    """Counts, per hook, how often each plugin acted (a firstresult hook: only the winner)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {hook: dict(sorted(c.items())) for hook, c in sorted(self.counts.items())}


def _wrap_impl(impl: Any, hook_name: str, firstresult: bool, trace: HookTrace) -> None:
    function = impl.function
    counter = trace.counts[hook_name]
    plugin_name = impl.plugin_name
    adapt = RESULT_ADAPTERS.get(hook_name)

    def traced(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
            if adapt is not None:
                result = adapt(plugin_name, result)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(plugin_name, hook_name, exc) from exc
        if result is not None or not firstresult:
            counter[plugin_name] += 1
        return result

    impl.function = traced


class HarnessPluginManager(pluggy.PluginManager):
    """pluggy's manager, skipping the hookimpls a plugin's configuration does not use.

    A plugin whose parameters make a hook a no-op (a scheduler stepped per epoch never
    acts in ``on_step``) says so in :meth:`Plugin.unused_hooks`; that impl is then not
    registered, so the trace shows only hooks where the plugin really acts.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is not None and isinstance(plugin, Plugin) and name in plugin.unused_hooks():
            return None
        return opts


def build_run_manager(
    available: Mapping[str, PluginInfo], enabled: Mapping[str, Any], observers: tuple[Any, ...] = ()
) -> tuple[pluggy.PluginManager, HookTrace]:
    """A fresh manager for one run: enabled plugins registered, every other one blocked.

    :param enabled: plugin name -> validated ``Params`` instance. A plugin another enabled
        one ``replaces`` is switched off; two plugins in one slot raise
        :class:`PluginConflictError` (:func:`resolve_conflicts`).
    :param observers: extra objects with hookimpls (progress bars, reporters) that are
        registered too but left out of the trace.
    """
    missing = sorted(set(enabled) - set(available))
    if missing:  # never drop an enabled plugin silently (e.g. a scenario's plugin_modules not passed on)
        raise PluginLoadError(f"enabled plugin(s) {', '.join(map(repr, missing))} not among the available plugins")
    enabled, _ = resolve_conflicts(available, enabled)
    pm = HarnessPluginManager()
    for name in available:
        if name not in enabled:
            pm.set_blocked(name)
    for name, info in available.items():
        if pm.is_blocked(name):
            continue
        try:
            instance = info.cls(enabled[name])
        except Exception as exc:
            raise PluginError(name, "__init__", exc) from exc
        pm.register(instance, name=name)
        instance.hook = pm.hook  # for a plugin that raises a hook of its own (distill_inputs)
    pm.check_pending()  # a hookimpl with no matching hookspec fails loudly
    trace = HookTrace()
    traced_names = set(enabled)
    for hook_name in dir(pm.hook):
        caller = getattr(pm.hook, hook_name)
        if not isinstance(caller, pluggy.HookCaller) or caller.spec is None:
            continue
        firstresult = bool(caller.spec.opts.get("firstresult"))
        for impl in caller.get_hookimpls():
            if impl.plugin_name in traced_names:
                _wrap_impl(impl, hook_name, firstresult, trace)
    for observer in observers:
        pm.register(observer)
    return pm, trace


def plugin_catalogue(extra: tuple[str, ...] = ()) -> dict[str, PluginInfo]:
    """:func:`discover_plugins`, or nothing where a plugin cannot be loaded: reports and failure
    messages re-rendered where a plugin is not installed show what they can, not an error."""
    try:
        return discover_plugins(extra)
    except Exception:  # noqa: BLE001 - a listing, never the reason a report fails
        return {}


def plugin_kinds(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Plugin name -> kind (``core``, ``fix``, ``monitor``, ``bug``) of :func:`plugin_catalogue`."""
    return {name: info.kind for name, info in plugin_catalogue(extra).items()}
