"""Ablation: which of the fixes between two variants matter, measured over seeds.

A *fix* is a plugin whose setting differs between the base variant (the incident) and
the target (the cure): on in one and off in the other, or on in both with different
parameters. For every fix the ablation runs

    base                 the incident as it is
    base + fix           the base with this one plugin set as in the target
    target               the cure as it is
    target - fix         the target with this one plugin set as in the base (off if it is off there)

each over the same seeds, and every arm is judged by the **target's** expectations:
an arm is *cured* when they hold at the stated pass rate (by default each expectation's
own ``pass_rate``, every seed when it has none; ``harness ablate --pass-rate '>= 0.8'``
asks instead that this share of seeds pass every expectation). Then

    sufficient alone  = base + fix is cured
    necessary         = target - fix is not cured

A verdict is None (n/a) when it would be vacuous: *sufficient* when the base itself is
already cured, *necessary* when the target itself is not cured.

Everything here but :func:`ablation_scenario` is a pure function of plain dicts, so the
verdict logic is tested on scripted outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.expectations import PassRate

Settings = dict[str, dict[str, Any]]  # enabled plugin -> its parameters (model_dump)


@dataclass(frozen=True)
class Fix:
    """One plugin whose setting differs between base and target (None: switched off)."""

    plugin: str
    base: dict[str, Any] | None
    target: dict[str, Any] | None

    @property
    def change(self) -> str:
        """``off -> on``, ``on -> off`` or the parameters that differ: ``interval: epoch -> step``."""
        if self.base is None:
            return "off -> on"
        if self.target is None:
            return "on -> off"
        keys = [k for k in dict.fromkeys([*self.base, *self.target]) if self.base.get(k) != self.target.get(k)]
        return ", ".join(f"{k}: {_short(self.base.get(k))} -> {_short(self.target.get(k))}" for k in keys)

    def as_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "base": self.base, "target": self.target, "change": self.change}


def _short(value: Any) -> str:
    """A parameter value as the YAML would spell it (``null``, ``true``, ``0.5``, ``step``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Arm:
    """One variant of the ablation."""

    name: str
    role: str  # base | base+fix | target | target-fix
    fix: str | None
    source: str  # the scenario variant it derives from (its train config and description)
    plugins: Settings = field(default_factory=dict)


def find_fixes(base: Settings, target: Settings) -> list[Fix]:
    """The plugins whose setting differs, in the target's order, then those only in the base."""
    names = list(dict.fromkeys([*target, *base]))
    return [Fix(n, base.get(n), target.get(n)) for n in names if base.get(n) != target.get(n)]


def plan_arms(base_name: str, target_name: str, base: Settings, target: Settings) -> list[Arm]:
    """base, base+each fix, target, target-each fix (see the module docstring)."""
    fixes = find_fixes(base, target)
    arms = [Arm(base_name, "base", None, base_name, dict(base))]
    for fix in fixes:
        arms.append(Arm(f"{base_name}+{fix.plugin}", "base+fix", fix.plugin, base_name, _set(base, fix.plugin, fix.target)))
    arms.append(Arm(target_name, "target", None, target_name, dict(target)))
    for fix in fixes:
        arms.append(Arm(f"{target_name}-{fix.plugin}", "target-fix", fix.plugin, target_name, _set(target, fix.plugin, fix.base)))
    return arms


def _set(settings: Settings, plugin: str, value: dict[str, Any] | None) -> Settings:
    out = dict(settings)
    if value is None:
        out.pop(plugin, None)
    else:
        out[plugin] = value
    return out


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
    passed_runs: int
    runs: int
    cured: bool

    @property
    def seeds_disagree(self) -> bool:
        return 0 < self.passed_runs < self.runs

    def as_dict(self) -> dict[str, Any]:
        return {"passed_runs": self.passed_runs, "runs": self.runs, "cured": self.cured, "seeds_disagree": self.seeds_disagree}


def outcome(seed_passed: list[bool], rule: PassRate | None = None, variant_passed: bool | None = None) -> ArmOutcome:
    return ArmOutcome(sum(seed_passed), len(seed_passed), is_cured(seed_passed, rule, variant_passed))


def verdicts(base: Settings, target: Settings, arms: list[Arm], outcomes: dict[str, ArmOutcome]) -> dict[str, Any]:
    """The fix table: per fix its two arms' outcomes and the *sufficient*/*necessary* verdicts,
    plus warnings when the comparison is degenerate (base cured, target not cured)."""
    by_role = {(a.role, a.fix): a for a in arms}
    base_arm, target_arm = by_role[("base", None)], by_role[("target", None)]
    base_cured, target_cured = outcomes[base_arm.name].cured, outcomes[target_arm.name].cured
    warnings = []
    if base_cured:
        warnings.append(f"the base '{base_arm.name}' already passes the target's expectations: 'sufficient' is n/a")
    if not target_cured:
        warnings.append(f"the target '{target_arm.name}' itself does not pass its expectations: 'necessary' is n/a")
    rows = []
    for fix in find_fixes(base, target):
        plus, minus = by_role[("base+fix", fix.plugin)], by_role[("target-fix", fix.plugin)]
        with_fix, without_fix = outcomes[plus.name], outcomes[minus.name]
        rows.append(
            {
                **fix.as_dict(),
                "base_plus_fix": {"variant": plus.name, **with_fix.as_dict()},
                "target_minus_fix": {"variant": minus.name, **without_fix.as_dict()},
                "sufficient": None if base_cured else with_fix.cured,
                "necessary": None if not target_cured else not without_fix.cured,
            }
        )
    return {
        "base": {"variant": base_arm.name, **outcomes[base_arm.name].as_dict()},
        "target": {"variant": target_arm.name, **outcomes[target_arm.name].as_dict()},
        "fixes": rows,
        "warnings": warnings,
    }


def settings_of(variant: Any) -> Settings:
    """A resolved scenario variant's enabled plugins as plain dicts."""
    return {name: params.model_dump() for name, params in variant.plugins.items()}


def ablation_scenario(scenario: Any, base: str, target: str) -> tuple[Any, list[Arm]]:
    """A copy of ``scenario`` whose variants are the ablation's arms, each judged by the
    target's expectations, and the arms. Base-derived arms keep the base's train config,
    target-derived ones the target's."""
    from dataclasses import replace

    from harness.scenario import Variant

    b, t = scenario.variants[base], scenario.variants[target]
    arms = plan_arms(base, target, settings_of(b), settings_of(t))
    variants = {}
    for arm in arms:
        source = b if arm.source == base else t
        other = t if source is b else b
        plugins = dict(source.plugins)
        if arm.fix is not None:
            if arm.fix in other.plugins:
                plugins[arm.fix] = other.plugins[arm.fix]
            else:
                plugins.pop(arm.fix, None)
        description = {
            "base": f"{base} as it is",
            "base+fix": f"{base} with {arm.fix} as in {target}",
            "target": f"{target} as it is",
            "target-fix": f"{target} with {arm.fix} as in {base}",
        }[arm.role]
        variants[arm.name] = Variant(arm.name, description, plugins, source.train, list(t.expectations))
    return replace(scenario, variants=variants), arms


def train_differences(scenario: Any, base: str, target: str) -> dict[str, tuple[Any, Any]]:
    """Train settings that differ between base and target (not ablated: each arm keeps its source's)."""
    b = scenario.variants[base].train.model_dump()
    t = scenario.variants[target].train.model_dump()
    return {k: (b[k], t[k]) for k in b if b[k] != t.get(k)}
