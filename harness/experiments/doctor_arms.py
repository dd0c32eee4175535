"""The doctor's arms: a candidate's settings on top of the variant, the reference without the variant's bugs, and a cure written back as a ready-to-paste variant."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.experiments.arms import Settings
from harness.experiments.doctor_candidates import Candidate
from harness.experiments.doctor_verdicts import ArmVerdict


def arm_name(variant: str, candidate: Candidate) -> str:
    return f"{variant}+{candidate.name}"


def phase_scenario(scenario: Any, variant: str, arms: dict[str, tuple[Settings, list[Any], str]]) -> Any:
    """A copy of ``scenario`` whose variants are ``arms``: name -> (plugin settings, expectations,
    description), each with ``variant``'s train config; plugins validated like the YAML's."""
    variants = {
        name: scenario.derive(
            variant, name, settings, description=description, expectations=list(expectations), only=True
        )
        for name, (settings, expectations, description) in arms.items()
    }
    return scenario.with_variants(variants)


def candidate_settings(settings: Settings, candidate: Candidate) -> Settings:
    out = {p: v for p, v in settings.items() if p not in candidate.replaced}
    out.update({p: dict(v) for p, v in candidate.plugins.items()})
    return out


def reference_settings(
    available: Mapping[str, Any], settings: Settings, lr: float | None = None, configured_lr: float | None = None
) -> tuple[Settings, str]:
    """The clean run to compare with, and what it is: the variant less its ``bug`` plugins when it
    has any (the same recipe, without the injected mistake); otherwise plain training, the
    variant less every fix (the core and the monitors as it sets them), at ``lr`` (the LR range
    test's suggestion, through ``lr_scale``) when one is given and differs from ``configured_lr``."""
    kind = {p: available[p].kind for p in settings if p in available}
    if any(k == "bug" for k in kind.values()):
        return {p: v for p, v in settings.items() if kind.get(p) != "bug"}, "the variant without its bug plugins"
    plain = {p: v for p, v in settings.items() if kind.get(p) in ("core", "monitor")}
    if lr is None or not configured_lr or abs(lr / configured_lr - 1) < 1e-3:
        return plain, "plain training: every fix off"
    factor = float(f"{lr / configured_lr:.3g}")
    plain["lr_scale"] = {"factor": factor}
    return plain, f"plain training (every fix off) at lr {lr:.3g}, the LR range test's (lr_scale {factor:g})"


def _flow(value: Any) -> str:
    """A YAML value on one line (``true``, ``{interval: step}``, ``'a: b'``)."""
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=10_000)  # PyYAML has no type hints
    return text.strip().removesuffix("...").strip()


def fixed_variant_yaml(
    scenario: Any,
    variant: str,
    settings: Settings,
    available: Mapping[str, Any],
    verdict: ArmVerdict,
    expectations: list[str],
    seeds: list[int],
) -> str:
    """A ready-to-paste ``fixed:`` variant (indented to sit under ``variants:``): the variant's own
    fixes and bugs as it sets them, the cure, the occupants it replaces ``false``, the variant's
    ``train:`` overrides and the cure criterion as its expectations. Plugins the scenario's
    top-level ``plugins:`` already sets the same way are left out."""
    candidate = verdict.candidate
    raw = scenario.raw or {}
    raw_variant = (raw.get("variants") or {}).get(variant) or {}
    top = raw.get("plugins") or {}
    plugins: dict[str, Any] = {}
    for name, params in candidate_settings(settings, candidate).items():
        info = available.get(name)
        if info is None or info.kind in ("core", "monitor"):
            continue
        own = (raw_variant.get("plugins") or {}).get(name)
        if name in candidate.plugins:
            plugins[name] = dict(params) or True
        elif own is not None and own is not False:
            plugins[name] = own
        elif name not in top:  # enabled some other way (--with, --set)
            plugins[name] = dict(params) or True
    for name in candidate.replaced:
        plugins[name] = False
    lines = [
        "  fixed:",
        f"    description: {_flow(f'{variant} + {candidate.name}, proven by harness doctor ({verdict.passed_runs}/{verdict.runs} seeds)')}",
        "    plugins:" if plugins else "    plugins: {}",
    ]
    lines += [f"      {name}: {_flow(value)}" for name, value in plugins.items()]
    if raw_variant.get("train"):
        lines.append(f"    train: {_flow(raw_variant['train'])}")
    lines.append("    expect:")
    lines += [f"      - {_flow(line)}" for line in expectations]
    return "\n".join(lines)
