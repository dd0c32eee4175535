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

from pathlib import Path
from typing import Any

from harness.experiments.arms import Arm, find_fixes, plan_arms, settings_of


def ablation_scenario(scenario: Any, base: str, target: str, folder: Path | None = None) -> tuple[Any, list[Arm]]:
    """A copy of ``scenario`` whose variants are the ablation's arms, each judged by the
    target's expectations, and the arms. Base-derived arms keep the base's train config,
    target-derived ones the target's. Fixes are grouped by slot (see the module docstring).
    Two script variants whose programs differ by a diff have a change per hunk of it too
    (:mod:`harness.experiments.ablation_hunks`), after the plugin changes; the arms' diffs
    are written into ``folder`` (default: ``hunks/`` of the scenario's results).

    :raises harness.experiments.ablation_hunks.HunkError: the programs' diff cannot be had.
    :raises harness.core.pluginmanager.PluginConflictError: an arm would enable two plugins
        in one slot (cannot happen for fixes grouped by slot; checked anyway).
    """
    from harness.core.pluginmanager import plugin_slots
    from harness.execution.runner import default_results_dir
    from harness.experiments.ablation_hunks import hunk_fixes, hunk_programs, program_diff

    available = scenario.catalogue
    b, t = scenario.variants[base], scenario.variants[target]
    slots: dict[str, frozenset[str]] = {}
    for variant in (b, t):
        for name, params in variant.plugins.items():
            slots[name] = slots.get(name, frozenset()) | plugin_slots(available[name].cls, params)
    replaces = {name: frozenset(available[name].cls.replaces) for name in slots}
    fixes = find_fixes(settings_of(b), settings_of(t), slots, replaces)
    diff = program_diff(scenario, base, target)
    hunks = hunk_fixes(diff) if diff else []
    programs = hunk_programs(scenario, base, hunks, folder or default_results_dir(scenario) / "ablation" / "hunks")
    arms = plan_arms(base, target, settings_of(b), settings_of(t), fixes + hunks)
    variants = {}
    for arm in arms:
        source = b if arm.source == base else t
        other = t if source is b else b
        fix = arm.fix
        changes = {plugin: other.plugins.get(plugin) for plugin in fix.plugins} if fix is not None else {}
        variants[arm.name] = scenario.derive(
            source.name,
            arm.name,
            changes,
            description=_description(arm, base, target),
            expectations=t.expectations,
            label=f"ablation arm {arm.name!r}",
            program=programs.get((arm.role, fix.index)) if fix is not None and fix.hunk is not None else None,
        )
    return scenario.with_variants(variants), arms


def _description(arm: Arm, base: str, target: str) -> str:
    """What an arm runs, in the words of the report's variant lines."""
    fix = arm.fix
    if fix is not None and fix.hunk is not None:
        if arm.role == "base+fix":
            return f"{base} with only hunk {fix.name} of the diff to {target} ({fix.change})"
        return f"{target} without hunk {fix.name}: the other hunks on {base}'s program"
    detail = f" ({fix.change})" if fix is not None and fix.slot else ""
    return {
        "base": f"{base} as it is",
        "base+fix": f"{base} with {arm.fix_name} as in {target}{detail}",
        "target": f"{target} as it is",
        "target-fix": f"{target} with {arm.fix_name} as in {base}{detail}",
    }[arm.role]
