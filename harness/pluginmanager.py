"""Finding plugins, and building the pluggy manager of one run.

Built-in plugins are listed in :data:`DEFAULT_PLUGINS` and loaded by the same code as
third-party ones from the ``harness`` entry-point group. For each run a fresh pluggy
manager registers one instance of every enabled plugin; a plugin switched off is
*blocked* (``set_blocked``), never skipped by an ``if`` in the loop. Every hook
implementation is wrapped so the run records which plugin acted on which hook (the
trace) and an exception names the plugin and hook it came from.
"""

from __future__ import annotations

import importlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from harness import hookspecs
from harness.plugin import Plugin

ENTRY_POINT_GROUP = "harness"

DEFAULT_PLUGINS: tuple[str, ...] = (
    "harness.plugins.defaults:Defaults",
    "harness.plugins.class_weights:ClassWeights",
    "harness.plugins.sample_weighted_loss:SampleWeightedLoss",
    "harness.plugins.lr_scaling:LRScaling",
    "harness.plugins.linear_warmup:LinearWarmup",
    "harness.plugins.grad_clip:GradClip",
    "harness.plugins.prediction_distribution:PredictionDistribution",
    "harness.plugins.collapse_stop:CollapseStop",
    "harness.plugins.checkpoint:Checkpoint",
    "harness.plugins.checkpoint_load:CheckpointLoad",
    "harness.plugins.resume:Resume",
    "harness.plugins.mixed_precision:MixedPrecision",
    # the student-distillation incident (issue 3): fixes, then monitors. grad_health must
    # stay after grad_clip: pluggy calls later registrations first, so it sees unclipped grads.
    "harness.plugins.scale_matching:ScaleMatching",
    "harness.plugins.distillation:Distillation",
    "harness.plugins.loss_weights:LossWeights",
    "harness.plugins.variance_penalty:VariancePenalty",
    "harness.plugins.logit_norm:LogitNorm",
    "harness.plugins.warmup_cosine:WarmupCosine",
    "harness.plugins.plateau:Plateau",
    "harness.plugins.sgd_nesterov:SGDNesterov",
    "harness.plugins.layerwise_lr:LayerwiseLR",
    "harness.plugins.two_stage:TwoStage",
    "harness.plugins.loss_explosion:LossExplosion",
    "harness.plugins.grad_health:GradHealth",
    "harness.plugins.mode_collapse:ModeCollapse",
    "harness.plugins.no_signal:NoSignal",
    "harness.plugins.saturation:Saturation",
    "harness.plugins.non_finite:NonFinite",
)


class PluginError(Exception):
    """An exception raised inside a plugin's hook implementation."""

    def __init__(self, plugin: str, hook: str, original: BaseException) -> None:
        super().__init__(f"plugin {plugin!r} failed in hook {hook!r}: {type(original).__name__}: {original}")
        self.plugin = plugin
        self.hook = hook
        self.original = original


class PluginLoadError(Exception):
    """A plugin that cannot be imported or is not a valid harness plugin."""


@dataclass(frozen=True)
class PluginInfo:
    """What is known about a plugin before any run: its class and where it came from."""

    name: str
    cls: type[Plugin]
    source: str  # "builtin" or the distribution that registered the entry point

    @property
    def kind(self) -> str:
        return self.cls.kind


def load_object(dotted: str) -> Any:
    """Import ``package.module:attr`` (naming a module runs its code, as a conftest does)."""
    module_name, _, attr = dotted.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    except (ImportError, AttributeError) as exc:
        raise PluginLoadError(f"cannot load plugin {dotted!r}: {exc}") from exc
    except Exception as exc:  # the module itself failed while being imported
        raise PluginLoadError(f"cannot load plugin {dotted!r}: importing it raised {type(exc).__name__}: {exc}") from exc


def _check_plugin_class(obj: Any, origin: str) -> type[Plugin]:
    if not (isinstance(obj, type) and issubclass(obj, Plugin) and obj.name):
        raise PluginLoadError(f"{origin} is not a harness Plugin subclass with a name")
    return obj


def discover_plugins(extra: tuple[str, ...] = ()) -> dict[str, PluginInfo]:
    """Every plugin: the built-ins, the ``harness`` entry points, and ``extra`` dotted names."""
    found: dict[str, PluginInfo] = {}

    def add(cls: type[Plugin], source: str) -> None:
        if cls.name in found and found[cls.name].cls is not cls:
            raise PluginLoadError(
                f"two plugins are named {cls.name!r}: {found[cls.name].source} and {source}"
            )
        found[cls.name] = PluginInfo(cls.name, cls, source)

    for dotted in DEFAULT_PLUGINS:
        add(_check_plugin_class(load_object(dotted), dotted), "builtin")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        add(_check_plugin_class(load_object(ep.value), f"entry point {ep.name!r}"), dist)
    for dotted in extra:
        add(_check_plugin_class(load_object(dotted), dotted), dotted)
    return found


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

    def traced(*args: Any, **kwargs: Any) -> Any:
        try:
            result = function(*args, **kwargs)
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
    available: dict[str, PluginInfo], enabled: dict[str, Any], observers: tuple[Any, ...] = ()
) -> tuple[pluggy.PluginManager, HookTrace]:
    """A fresh manager for one run: enabled plugins registered, every other one blocked.

    :param enabled: plugin name -> validated ``Params`` instance.
    :param observers: extra objects with hookimpls (progress bars, reporters) that are
        registered too but left out of the trace.
    """
    missing = sorted(set(enabled) - set(available))
    if missing:  # never drop an enabled plugin silently (e.g. a scenario's plugin_modules not passed on)
        raise PluginLoadError(f"enabled plugin(s) {', '.join(map(repr, missing))} not among the available plugins")
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
