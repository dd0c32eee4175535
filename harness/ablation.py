"""Ablation: which of the fixes between two variants matter, measured over seeds.

A *fix* is a change of one *slot* between the base variant (the incident) and the
target (the cure). Mostly that is one plugin: on in one and off in the other, or on in
both with different parameters. Plugins that compete for one slot (they answer the same
firstresult hook, share a declared ``slots`` entry, or one ``replaces`` the other) form
one fix: ``make_criterion: sample_weighted_loss -> class_weights`` is a single change,
because the two can never be on together. For every fix the ablation runs

    base                 the incident as it is
    base + fix           the base with the fix's plugins set as in the target
                         (the base's occupant of the slot off, the target's on)
    target               the cure as it is
    target - fix         the target with the fix's plugins set as in the base

each over the same seeds, and every arm is judged by the **target's** expectations:
an arm is *cured* when they hold at the stated pass rate (by default each expectation's
own ``pass_rate``, every seed when it has none; ``harness ablate --pass-rate '>= 0.8'``
asks instead that this share of seeds pass every expectation). Then

    sufficient alone  = base + fix is cured
    necessary         = target - fix is not cured

A verdict is None (n/a) when it would be vacuous (*sufficient* when the base itself is
already cured, *necessary* when the target itself is not cured) or when the arm does not
measure the fix: every plugin an arm switches on (or re-parameterises) must have acted
in every one of its runs, as the run's trace records it; otherwise the verdict is n/a
with a warning.

Everything here but :func:`ablation_scenario` is a pure function of plain data (records are
dicts; a scenario is only read), so the verdict logic is tested on scripted outcomes; the
report's ``ablation`` section is :func:`ablation_section`, which ``harness ablate`` only calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.expectations import PassRate

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters (model_dump)


@dataclass(frozen=True)
class Fix:
    """One slot whose occupant or setting differs between base and target.

    :param plugins: the plugins the fix toggles: one, or every occupant of the slot.
    :param base: their settings in the base (a plugin missing here is off there).
    :param target: their settings in the target.
    :param slot: what several plugins compete for (``make_criterion``); None for one plugin.
    """

    plugins: tuple[str, ...]
    base: Settings
    target: Settings
    slot: str | None = None

    @property
    def name(self) -> str:
        """The target's occupant(s), or the base's when the target leaves the slot empty."""
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
        or for a slot its occupants (``make_criterion: sample_weighted_loss -> class_weights``)."""
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
        return {
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

    :param slots: plugin -> the slots it occupies (:func:`harness.pluginmanager.plugin_slots`);
        differing plugins that share one form a single fix.
    :param replaces: plugin -> the plugins it replaces; they form a single fix too.
    """
    slots = {k: frozenset(v) for k, v in (slots or {}).items()}
    replaces = {k: frozenset(v) for k, v in (replaces or {}).items()}
    names = list(dict.fromkeys([*target, *base]))
    differing = [n for n in names if base.get(n) != target.get(n)]
    group = {n: n for n in differing}

    def root(n: str) -> str:
        while group[n] != n:
            n = group[n]
        return n

    def compete(a: str, b: str) -> set[str]:
        common = set(slots.get(a, frozenset()) & slots.get(b, frozenset()))
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
        arms.append(Arm(f"{base_name}+{fix.name}", "base+fix", fix, base_name, _with(base, fix.target, fix.plugins), on))
    arms.append(Arm(target_name, "target", None, target_name, dict(target)))
    for fix in fixes:
        on = tuple(p for p in fix.plugins if p in fix.base)
        arms.append(Arm(f"{target_name}-{fix.name}", "target-fix", fix, target_name, _with(target, fix.base, fix.plugins), on))
    return arms


def is_cured(seed_passed: list[bool], rule: PassRate | None, variant_passed: bool | None = None) -> bool:
    """An arm's cure verdict: with ``rule``, the share of seeds that passed every target
    expectation must satisfy it; without, the variant's own verdict (per-expectation pass
    rates, every seed by default) decides, or every seed must pass when that is not given."""
    if rule is not None:
        return rule.holds(sum(seed_passed), len(seed_passed)) and len(seed_passed) > 0
    if variant_passed is not None:
        return variant_passed
    return bool(seed_passed) and all(seed_passed)


@dataclass
class ArmOutcome:
    """An arm over its seeds: ``passed_runs`` of the ``runs`` that trained pass every target
    expectation; with early decisions, ``decided`` of those stopped when the arm's verdict was
    decided (their open lines neither pass nor fail) and ``skipped`` seeds never ran."""

    passed_runs: int
    runs: int
    cured: bool
    decided: int = 0
    skipped: int = 0
    failed_runs: int | None = None  # runs known to fail (default: every run that did not pass)

    @property
    def seeds_disagree(self) -> bool:
        failed = self.runs - self.passed_runs if self.failed_runs is None else self.failed_runs
        return self.passed_runs > 0 and failed > 0

    def as_dict(self) -> dict[str, Any]:
        out = {"passed_runs": self.passed_runs, "runs": self.runs, "cured": self.cured, "seeds_disagree": self.seeds_disagree}
        if self.decided or self.skipped:
            out.update(decided=self.decided, skipped=self.skipped)
        return out


def outcome(seed_passed: list[bool], rule: PassRate | None = None, variant_passed: bool | None = None) -> ArmOutcome:
    return ArmOutcome(sum(seed_passed), len(seed_passed), is_cured(seed_passed, rule, variant_passed))


def arm_outcome(records: list[dict[str, Any]], rule: PassRate | None = None, variant_passed: bool | None = None) -> ArmOutcome:
    """:func:`outcome` of an arm's records, which may include runs stopped when the arm was
    decided and skipped ones (:mod:`harness.decisions`). With ``rule`` the verdict is what it
    is whatever the skipped seeds and open lines would have been (it was decided, or every
    run finished: then it is exactly :func:`is_cured`); without, ``variant_passed``."""
    from harness.decisions import group_verdict, run_verdict

    ran = [r for r in records if r.get("status") != "skipped"]
    verdicts = [run_verdict(r) for r in ran]
    cured = is_cured([v is True for v in verdicts], rule, variant_passed)
    if rule is not None and (len(ran) < len(records) or None in verdicts):
        decided, _ = group_verdict(records, rule=rule)
        cured = decided if decided is not None else cured
    return ArmOutcome(
        verdicts.count(True), len(ran), cured,
        decided=sum(r.get("status") == "decided" for r in ran), skipped=len(records) - len(ran),
        failed_runs=verdicts.count(False),
    )


def acted_in(trace: Mapping[str, Mapping[str, int]], plugin: str) -> bool:
    """Whether a run's trace shows ``plugin`` acting in any hook."""
    return any(by_plugin.get(plugin, 0) > 0 for by_plugin in trace.values())


def arm_acted(arm: Arm, records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per plugin the arm switches on: ``{"acted_runs": k, "runs": n}`` over the arm's runs
    (those that trained: a skipped seed has no trace)."""
    runs = [r for r in records if r.get("variant") == arm.name and r.get("status") != "skipped"]
    return {
        plugin: {"acted_runs": sum(acted_in(r.get("trace") or {}, plugin) for r in runs), "runs": len(runs)}
        for plugin in arm.switched_on
    }


def _measures_fix(counts: Mapping[str, Mapping[str, int]] | None) -> tuple[bool, list[str]]:
    """``(every switched-on plugin acted in every run, the lines saying which did not)``."""
    missing = [
        f"{plugin} never ran a hook in {c['runs'] - c['acted_runs']} of {c['runs']} run(s)"
        for plugin, c in (counts or {}).items()
        if c["runs"] == 0 or c["acted_runs"] < c["runs"]
    ]
    return not missing, missing


def verdicts(
    arms: list[Arm], outcomes: dict[str, ArmOutcome], acted: Mapping[str, Mapping[str, Mapping[str, int]]] | None = None
) -> dict[str, Any]:
    """The fix table: per fix its two arms' outcomes and the *sufficient*/*necessary* verdicts,
    plus warnings when the comparison is degenerate (base cured, target not cured) or an arm
    does not measure its fix (``acted``: :func:`arm_acted` per arm name; None skips the check)."""
    by_role = {(a.role, a.fix_name): a for a in arms}
    base_arm, target_arm = by_role[("base", None)], by_role[("target", None)]
    base_cured, target_cured = outcomes[base_arm.name].cured, outcomes[target_arm.name].cured
    warnings = []
    if base_cured:
        warnings.append(f"the base '{base_arm.name}' already passes the target's expectations: 'sufficient' is n/a")
    if not target_cured:
        warnings.append(f"the target '{target_arm.name}' itself does not pass its expectations: 'necessary' is n/a")
    rows = []
    for plus in (a for a in arms if a.role == "base+fix"):
        fix = plus.fix
        assert fix is not None
        minus = by_role[("target-fix", fix.name)]
        with_fix, without_fix = outcomes[plus.name], outcomes[minus.name]
        plus_ok, plus_missing = _measures_fix(acted.get(plus.name) if acted is not None else None)
        minus_ok, minus_missing = _measures_fix(acted.get(minus.name) if acted is not None else None)
        for arm, verdict, missing in ((plus, "sufficient", plus_missing), (minus, "necessary", minus_missing)):
            if missing:
                warnings.append(f"arm '{arm.name}' does not measure the fix: {'; '.join(missing)}: '{verdict}' of {fix.name} is n/a")
        rows.append(
            {
                **fix.as_dict(),
                "base_plus_fix": {"variant": plus.name, **with_fix.as_dict(), "fix_acted": plus_ok},
                "target_minus_fix": {"variant": minus.name, **without_fix.as_dict(), "fix_acted": minus_ok},
                "sufficient": None if base_cured or not plus_ok else with_fix.cured,
                "necessary": None if not target_cured or not minus_ok else not without_fix.cured,
            }
        )
    return {
        "base": {"variant": base_arm.name, **outcomes[base_arm.name].as_dict()},
        "target": {"variant": target_arm.name, **outcomes[target_arm.name].as_dict()},
        "fixes": rows,
        "warnings": warnings,
    }


def judge_arms(
    arms: list[Arm], records: list[dict[str, Any]], summaries: Mapping[str, Mapping[str, Any]], rule: PassRate | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, int]]]]:
    """The fix table of an ablation's run records (:func:`verdicts` of every arm's
    :func:`arm_outcome` and :func:`arm_acted`) and the ``acted`` counts; ``summaries``: the
    per-variant summaries of :func:`harness.verdicts.summarize_variants` (their ``passed``)."""
    outcomes = {
        arm.name: arm_outcome([r for r in records if r["variant"] == arm.name], rule, summaries[arm.name]["passed"])
        for arm in arms
    }
    acted = {arm.name: arm_acted(arm, records) for arm in arms}  # does each arm's trace show its fix acting?
    return verdicts(arms, outcomes, acted), acted


def settings_of(variant: Any) -> Settings:
    """A resolved scenario variant's enabled plugins as plain dicts."""
    return {name: params.model_dump() for name, params in variant.plugins.items()}


def ablation_scenario(scenario: Any, base: str, target: str) -> tuple[Any, list[Arm]]:
    """A copy of ``scenario`` whose variants are the ablation's arms, each judged by the
    target's expectations, and the arms. Base-derived arms keep the base's train config,
    target-derived ones the target's. Fixes are grouped by slot (see the module docstring).

    :raises harness.pluginmanager.PluginConflictError: an arm would enable two plugins
        in one slot (cannot happen for fixes grouped by slot; checked anyway).
    """
    from dataclasses import replace

    from harness.pluginmanager import (
        PluginConflictError,
        discover_plugins,
        plugin_slots,
        resolve_conflicts,
    )
    from harness.scenario import Variant

    available = discover_plugins(scenario.plugin_modules)
    b, t = scenario.variants[base], scenario.variants[target]
    slots: dict[str, frozenset[str]] = {}
    for variant in (b, t):
        for name, params in variant.plugins.items():
            slots[name] = slots.get(name, frozenset()) | plugin_slots(available[name].cls, params)
    replaces = {name: frozenset(available[name].cls.replaces) for name in slots}
    fixes = find_fixes(settings_of(b), settings_of(t), slots, replaces)
    arms = plan_arms(base, target, settings_of(b), settings_of(t), fixes)
    variants = {}
    for arm in arms:
        source = b if arm.source == base else t
        other = t if source is b else b
        plugins = dict(source.plugins)
        if arm.fix is not None:
            for plugin in arm.fix.plugins:
                if plugin in other.plugins:
                    plugins[plugin] = other.plugins[plugin]
                else:
                    plugins.pop(plugin, None)
        try:
            resolve_conflicts(available, plugins)
        except PluginConflictError as exc:
            raise PluginConflictError(exc.plugins, exc.slot, f"ablation arm {arm.name!r}: {exc}") from None
        fix = arm.fix
        detail = f" ({fix.change})" if fix is not None and fix.slot else ""
        description = {
            "base": f"{base} as it is",
            "base+fix": f"{base} with {arm.fix_name} as in {target}{detail}",
            "target": f"{target} as it is",
            "target-fix": f"{target} with {arm.fix_name} as in {base}{detail}",
        }[arm.role]
        variants[arm.name] = Variant(arm.name, description, plugins, source.train, list(t.expectations))
    return replace(scenario, variants=variants), arms


def train_differences(scenario: Any, base: str, target: str) -> dict[str, tuple[Any, Any]]:
    """Train settings that differ between base and target (not ablated: each arm keeps its source's)."""
    b = scenario.variants[base].train.model_dump()
    t = scenario.variants[target].train.model_dump()
    return {k: (b[k], t[k]) for k in b if b[k] != t.get(k)}


def cure_rule_text(target: str, expectations: list[Any], rule: PassRate | None) -> str:
    """What *cured* means in this ablation, for the report's title."""
    if rule is not None:
        return f"the share of seeds passing every expectation of {target!r} is {rule.text}"
    if any(e.pass_rate for e in expectations):
        return f"every expectation of {target!r} holds at its pass_rate (every seed when it has none)"
    return f"every expectation of {target!r} holds on every seed"


def arms_table(arms: list[Arm], acted: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The arms as the report lists them, with the ``acted`` counts of :func:`arm_acted`."""
    return [
        {"variant": a.name, "role": a.role, "fix": a.fix_name, "source": a.source, "switched_on": list(a.switched_on),
         "acted": acted[a.name]}
        for a in arms
    ]


def base_reproduces(own: list[Any], base_records: list[dict[str, Any]], torch_version: str) -> dict[str, Any] | None:
    """Whether the base shows the incident by its *own* expectations (None when it has none).
    The records were judged by the target's; a run stopped when its arm was decided has its
    own ``final.*`` lines open (counted as ``open``)."""
    from harness.decisions import judge_record, run_verdict
    from harness.verdicts import run_ok

    if not own:
        return None
    runs = [dict(r) for r in base_records if r["status"] != "skipped"]
    for r in runs:
        r["expectations"] = judge_record(own, r, torch_version)
    unknown = sum(run_verdict(r) is None for r in runs)
    return {"passed_runs": sum(run_ok(r) for r in runs), "runs": len(runs), **({"open": unknown} if unknown else {})}


def early_summary(records: list[dict[str, Any]]) -> dict[str, int]:
    """What deciding early saved: the runs trained, stopped (``decided``) and skipped, and the steps."""
    trained = [r for r in records if r["status"] != "skipped"]
    return {
        "runs": len(records), "trained": len(trained), "skipped": len(records) - len(trained),
        "decided": sum(r["status"] == "decided" for r in trained), "steps": sum(r.get("steps") or 0 for r in trained),
    }


def ablation_section(
    scenario: Any, base: str, target: str, arms: list[Arm], records: list[dict[str, Any]],
    summaries: Mapping[str, Mapping[str, Any]], rule: PassRate | None, *, early: bool, torch_version: str,
) -> dict[str, Any]:
    """The report's ``ablation`` section: :func:`judge_arms`' fix table, what *cured* means, the
    arms, whether the base reproduces its incident, what deciding ``early`` saved and the train
    settings that differ (with a warning: they are not ablated)."""
    section, acted = judge_arms(arms, records, summaries, rule)
    target_exps = scenario.variants[target].expectations
    differences = train_differences(scenario, base, target)
    section.update(
        rule_text=cure_rule_text(target, target_exps, rule),
        pass_rate=rule.text if rule else None,
        expectations=[e.text + (f" [pass_rate {e.pass_rate.text}]" if e.pass_rate else "") for e in target_exps],
        arms=arms_table(arms, acted),
        base_reproduces=base_reproduces(
            scenario.variants[base].expectations, [r for r in records if r["variant"] == base], torch_version
        ),
        early=early_summary(records) if early else None,
        train_differences={k: list(v) for k, v in differences.items()},
    )
    if differences:
        section["warnings"].append(
            "base and target also differ in train settings (not ablated; each arm keeps its source's): "
            + ", ".join(f"{k} {a} vs {b}" for k, (a, b) in differences.items())
        )
    return section


def ablation_passed(records: list[dict[str, Any]], section: Mapping[str, Any]) -> bool:
    """An ablation passes when every run finished and the target is cured."""
    from harness.verdicts import FAILED_STATUSES

    return all(r["status"] not in FAILED_STATUSES for r in records) and section["target"]["cured"]
