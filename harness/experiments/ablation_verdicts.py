"""Judging an ablation: which arms still cure, which fixes matter, and the report section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.experiments.arms import Arm, acted_in, train_differences
from harness.scenario.expectations import PassRate

if TYPE_CHECKING:
    from harness.execution.records import RunRecord


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
        out = {
            "passed_runs": self.passed_runs,
            "runs": self.runs,
            "cured": self.cured,
            "seeds_disagree": self.seeds_disagree,
        }
        if self.decided or self.skipped:
            out.update(decided=self.decided, skipped=self.skipped)
        return out


def outcome(seed_passed: list[bool], rule: PassRate | None = None, variant_passed: bool | None = None) -> ArmOutcome:
    return ArmOutcome(sum(seed_passed), len(seed_passed), is_cured(seed_passed, rule, variant_passed))


def arm_outcome(
    records: list[RunRecord], rule: PassRate | None = None, variant_passed: bool | None = None
) -> ArmOutcome:
    """:func:`outcome` of an arm's records, which may include runs stopped when the arm was
    decided and skipped ones (:mod:`harness.judging.decisions`). With ``rule`` the verdict is what it
    is whatever the skipped seeds and open lines would have been (it was decided, or every
    run finished: then it is exactly :func:`is_cured`); without, ``variant_passed``."""
    from harness.judging.decisions import group_verdict
    from harness.judging.verdicts import run_verdict

    ran = [r for r in records if r.get("status") != "skipped"]
    verdicts = [run_verdict(r) for r in ran]
    cured = is_cured([v is True for v in verdicts], rule, variant_passed)
    if rule is not None and (len(ran) < len(records) or None in verdicts):
        decided, _ = group_verdict(records, rule=rule)
        cured = decided if decided is not None else cured
    return ArmOutcome(
        verdicts.count(True),
        len(ran),
        cured,
        decided=sum(r.get("status") == "decided" for r in ran),
        skipped=len(records) - len(ran),
        failed_runs=verdicts.count(False),
    )


def arm_acted(arm: Arm, records: list[RunRecord]) -> dict[str, dict[str, int]]:
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
                warnings.append(
                    f"arm '{arm.name}' does not measure the fix: {'; '.join(missing)}: '{verdict}' of {fix.name} is n/a"
                )
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
    arms: list[Arm], records: list[RunRecord], summaries: Mapping[str, Mapping[str, Any]], rule: PassRate | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, dict[str, int]]]]:
    """The fix table of an ablation's run records (:func:`verdicts` of every arm's
    :func:`arm_outcome` and :func:`arm_acted`) and the ``acted`` counts; ``summaries``: the
    per-variant summaries of :func:`harness.judging.verdicts.summarize_variants` (their ``passed``)."""
    outcomes = {
        arm.name: arm_outcome([r for r in records if r["variant"] == arm.name], rule, summaries[arm.name]["passed"])
        for arm in arms
    }
    acted = {arm.name: arm_acted(arm, records) for arm in arms}  # does each arm's trace show its fix acting?
    return verdicts(arms, outcomes, acted), acted


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
        {
            "variant": a.name,
            "role": a.role,
            "fix": a.fix_name,
            "source": a.source,
            "switched_on": list(a.switched_on),
            "acted": acted[a.name],
        }
        for a in arms
    ]


def base_reproduces(own: list[Any], base_records: list[RunRecord], torch_version: str) -> dict[str, Any] | None:
    """Whether the base shows the incident by its *own* expectations (None when it has none).
    The records were judged by the target's; a run stopped when its arm was decided has its
    own ``final.*`` lines open (counted as ``open``)."""
    from harness.judging.decisions import judge_record
    from harness.judging.verdicts import run_ok, run_verdict

    if not own:
        return None
    runs = [dict(r) for r in base_records if r["status"] != "skipped"]
    for r in runs:
        r["expectations"] = judge_record(own, r, torch_version)
    unknown = sum(run_verdict(r) is None for r in runs)
    return {"passed_runs": sum(run_ok(r) for r in runs), "runs": len(runs), **({"open": unknown} if unknown else {})}


def early_summary(records: list[RunRecord]) -> dict[str, int]:
    """What deciding early saved: the runs trained, stopped (``decided``) and skipped, and the steps."""
    trained = [r for r in records if r["status"] != "skipped"]
    return {
        "runs": len(records),
        "trained": len(trained),
        "skipped": len(records) - len(trained),
        "decided": sum(r["status"] == "decided" for r in trained),
        "steps": sum(r.get("steps") or 0 for r in trained),
    }


def ablation_section(
    scenario: Any,
    base: str,
    target: str,
    arms: list[Arm],
    records: list[RunRecord],
    summaries: Mapping[str, Mapping[str, Any]],
    rule: PassRate | None,
    *,
    early: bool,
    torch_version: str,
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


def ablation_passed(records: list[RunRecord], section: Mapping[str, Any]) -> bool:
    """An ablation passes when every run finished and the target is cured."""
    from harness.judging.verdicts import FAILED_STATUSES

    return all(r["status"] not in FAILED_STATUSES for r in records) and section["target"]["cured"]
