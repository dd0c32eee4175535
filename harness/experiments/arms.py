"""Arms: a variant's plugin settings, and the changes to them an ablation or the doctor tries (each arm validated as a variant is)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.experiments.hunks import Hunk

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters (model_dump)


@dataclass(frozen=True)
class Fix:
    """One slot whose occupant or setting differs between base and target.

    :param plugins: the plugins the fix toggles: one, or every occupant of the slot.
    :param base: their settings in the base (a plugin missing here is off there).
    :param target: their settings in the target.
    :param slot: what several plugins compete for (``make_criterion``); None for one plugin.
    :param hunk: a change of a script's program instead (no plugins): one hunk of the diff between
        base and target (:mod:`harness.experiments.hunks`), the ``index``-th.
    """

    plugins: tuple[str, ...]
    base: Settings
    target: Settings
    slot: str | None = None
    hunk: Hunk | None = None
    index: int = 0

    @property
    def name(self) -> str:
        """The target's occupant(s), or the base's when the target leaves the slot empty; a hunk: FILE:LINE."""
        if self.hunk is not None:
            return self.hunk.name
        on = [p for p in self.plugins if p in self.target] or [p for p in self.plugins if p in self.base]
        return "+".join(on)

    @property
    def occupants(self) -> dict[str, list[str]]:
        return {
            "base": [p for p in self.plugins if p in self.base],
            "target": [p for p in self.plugins if p in self.target],
        }

    @property
    def change(self) -> str:
        """``off -> on``, ``on -> off``, the parameters that differ (``interval: epoch -> step``),
        or for a slot its occupants (``make_criterion: sample_weighted_loss -> class_weights``);
        a hunk: its first changed line (:attr:`harness.experiments.hunks.Hunk.change`)."""
        if self.hunk is not None:
            return self.hunk.change
        if len(self.plugins) > 1:
            occ = self.occupants
            return f"{self.slot}: {', '.join(occ['base']) or 'none'} -> {', '.join(occ['target']) or 'none'}"
        plugin = self.plugins[0]
        base, target = self.base.get(plugin), self.target.get(plugin)
        if base is None:
            return "off -> on"
        if target is None:
            return "on -> off"
        keys = [k for k in dict.fromkeys([*base, *target]) if base.get(k) != target.get(k)]
        return ", ".join(f"{k}: {yaml_scalar(base.get(k))} -> {yaml_scalar(target.get(k))}" for k in keys)

    def as_dict(self) -> dict[str, Any]:
        where: dict[str, Any] = {}
        if self.hunk is not None:
            line, text = self.hunk.first_change
            where["hunk"] = {"file": self.hunk.path, "line": line, "text": text, "index": self.index}
        return where | {
            "plugin": self.name,
            "plugins": list(self.plugins),
            "slot": self.slot,
            "occupants": self.occupants,
            "base": dict(self.base),
            "target": dict(self.target),
            "change": self.change,
        }


def yaml_scalar(value: Any) -> str:
    """A parameter value as the YAML would spell it (``null``, ``true``, ``0.5``, ``step``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Arm:
    """One variant of the ablation.

    ``switched_on`` are the plugins this arm turns on or re-parameterises relative to its
    source: the ones whose trace must show they acted for the arm to measure its fix.
    """

    name: str
    role: str  # base | base+fix | target | target-fix
    fix: Fix | None
    source: str  # the scenario variant it derives from (its train config and description)
    plugins: Settings = field(default_factory=dict)
    switched_on: tuple[str, ...] = ()

    @property
    def fix_name(self) -> str | None:
        return self.fix.name if self.fix is not None else None


def find_fixes(
    base: Settings,
    target: Settings,
    slots: Mapping[str, Iterable[str]] | None = None,
    replaces: Mapping[str, Iterable[str]] | None = None,
) -> list[Fix]:
    """The fixes between ``base`` and ``target``, in the target's order, then base-only ones.

    :param slots: plugin -> the slots it occupies (:func:`harness.core.pluginmanager.plugin_slots`);
        differing plugins that share one form a single fix.
    :param replaces: plugin -> the plugins it replaces; they form a single fix too.
    """
    slot_sets = {k: frozenset(v) for k, v in (slots or {}).items()}
    replaces = {k: frozenset(v) for k, v in (replaces or {}).items()}
    names = list(dict.fromkeys([*target, *base]))
    differing = [n for n in names if base.get(n) != target.get(n)]
    group = {n: n for n in differing}

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    def compete(a: str, b: str) -> set[str]:
        common = set(slot_sets.get(a, frozenset()) & slot_sets.get(b, frozenset()))
        return common or ({"replaces"} if b in replaces.get(a, ()) or a in replaces.get(b, ()) else set())

    for i, a in enumerate(differing):
        for b in differing[i + 1 :]:
            if compete(a, b):
                group[root(b)] = root(a)
    members: dict[str, list[str]] = {}
    for n in differing:
        members.setdefault(root(n), []).append(n)
    fixes = []
    for plugins in members.values():
        shared = {s for i, a in enumerate(plugins) for b in plugins[i + 1 :] for s in compete(a, b)}
        fixes.append(
            Fix(
                tuple(plugins),
                {p: base[p] for p in plugins if p in base},
                {p: target[p] for p in plugins if p in target},
                ", ".join(sorted(shared)) if len(plugins) > 1 else None,
            )
        )
    return fixes


def _with(settings: Settings, values: Settings, plugins: tuple[str, ...]) -> Settings:
    """``settings`` with each of ``plugins`` set as in ``values`` (off where it is absent there)."""
    out = dict(settings)
    for plugin in plugins:
        if plugin in values:
            out[plugin] = values[plugin]
        else:
            out.pop(plugin, None)
    return out


def plan_arms(
    base_name: str, target_name: str, base: Settings, target: Settings, fixes: list[Fix] | None = None
) -> list[Arm]:
    """base, base+each fix, target, target-each fix (see the module docstring)."""
    fixes = find_fixes(base, target) if fixes is None else fixes
    arms = [Arm(base_name, "base", None, base_name, dict(base))]
    for fix in fixes:
        on = tuple(p for p in fix.plugins if p in fix.target)
        arms.append(
            Arm(f"{base_name}+{fix.name}", "base+fix", fix, base_name, _with(base, fix.target, fix.plugins), on)
        )
    arms.append(Arm(target_name, "target", None, target_name, dict(target)))
    for fix in fixes:
        on = tuple(p for p in fix.plugins if p in fix.base)
        arms.append(
            Arm(f"{target_name}-{fix.name}", "target-fix", fix, target_name, _with(target, fix.base, fix.plugins), on)
        )
    return arms


def acted_in(trace: Mapping[str, Mapping[str, int]], plugin: str) -> bool:
    """Whether a run's trace shows ``plugin`` acting in any hook."""
    return any(by_plugin.get(plugin, 0) > 0 for by_plugin in trace.values())


def settings_of(variant: Any) -> Settings:
    """A resolved scenario variant's enabled plugins as plain dicts."""
    return {name: params.model_dump() for name, params in variant.plugins.items()}


def train_differences(scenario: Any, base: str, target: str) -> dict[str, tuple[Any, Any]]:
    """Train settings that differ between base and target (not ablated: each arm keeps its source's)."""
    b = scenario.variants[base].train.model_dump()
    t = scenario.variants[target].train.model_dump()
    return {k: (b[k], t[k]) for k in b if b[k] != t.get(k)}
