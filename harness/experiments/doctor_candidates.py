"""The doctor's candidates: installed fixes whose declared addresses match the findings, and their small combinations."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.experiments.arms import Settings, yaml_scalar

if TYPE_CHECKING:
    from harness.core.plugin import Plugin


@dataclass(frozen=True)
class Candidate:
    """One proposed fix (or a combination): the plugins it sets and the occupants it switches off.

    :param plugins: fix plugin -> the parameters it is given in the arm (as a YAML would set them).
    :param replaced: plugins of the variant switched off (they compete for a slot with one of ``plugins``).
    :param addresses: the observed finding kinds it addresses.
    :param changes: ``{plugin: "off -> on" | "interval: epoch -> step"}``, for the report.
    """

    plugins: Settings
    replaced: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    changes: dict[str, str] = field(default_factory=dict)
    reparameterises: bool = False
    occurrences: int = 0
    label: str = ""
    parts: tuple[Candidate, ...] = ()  # of a combination: the single candidates it combines
    computed: bool = False  # its parameters were computed for this run (the LR range test's factor)
    #: how the run's evidence bears on the best cause that names its fixes (0 supports, 1 possible,
    #: 2 rules out; :data:`harness.core.diagnosis.VERDICT_ORDER`): the doctor tries supported cures first
    evidence: int = 1

    @property
    def name(self) -> str:
        return self.label or "+".join(self.plugins)

    @property
    def size(self) -> int:
        return len(self.plugins)

    def rank_key(self) -> tuple[Any, ...]:
        return (
            self.evidence,
            -len(self.addresses),
            not self.computed,
            not self.reparameterises,
            -self.occurrences,
            self.name,
        )

    def describe(self) -> str:
        parts = [f"{p} ({self.changes.get(p, 'on')})" for p in self.plugins]
        if self.replaced:
            parts.append("off: " + ", ".join(self.replaced))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plugins": {k: dict(v) for k, v in self.plugins.items()},
            "replaced": list(self.replaced),
            "addresses": list(self.addresses),
            "changes": dict(self.changes),
            "description": self.describe(),
        }


def _defaults(cls: type[Plugin]) -> dict[str, Any]:
    """A plugin's default parameters (empty when some have no default)."""
    try:
        return cls.Params().model_dump()
    except Exception:  # noqa: BLE001 - a required parameter
        return {}


def change_text(
    before: Mapping[str, Any] | None, after: Mapping[str, Any], given: Mapping[str, Any] | None = None
) -> str:
    """``off -> on`` (``on: factor=0.01`` with the parameters ``given``), or the parameters that
    differ (``interval: epoch -> step``)."""
    if before is None:
        return "on: " + ", ".join(f"{k}={yaml_scalar(v)}" for k, v in given.items()) if given else "off -> on"
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return ", ".join(f"{k}: {yaml_scalar(before.get(k))} -> {yaml_scalar(after.get(k))}" for k in keys)


def propose(
    available: Mapping[str, Any],
    settings: Settings,
    kinds: Mapping[str, int],
    slots: Callable[[Any, Any], frozenset[str]] | None = None,
) -> list[Candidate]:
    """Every single candidate for the observed ``kinds``, ranked (see the module docstring).

    :param available: plugin name -> info (``.kind``, ``.cls``): the installed plugins.
    :param settings: the variant's enabled plugins and their parameters.
    :param slots: ``(plugin class, params) -> slots`` (:func:`harness.core.pluginmanager.plugin_slots`).
    """
    from harness.core.pluginmanager import plugin_slots

    slots = slots or plugin_slots
    found: list[Candidate] = []
    for name, info in available.items():
        cls = info.cls
        if info.kind != "fix" or not cls.addresses:
            continue
        hit = tuple(k for k in cls.addresses if k in kinds)
        if not hit:
            continue
        suggestions = list(cls.suggestions) or [{}]
        for suggestion in suggestions:
            current = settings.get(name)  # as set (the YAML's keys), not every default
            given = {**(current or {}), **suggestion}
            params = cls.Params.model_validate(given)
            dumped = params.model_dump()
            before = cls.Params.model_validate(current).model_dump() if current is not None else None
            if before is not None and dumped == before:
                continue  # the variant already has exactly this: it did not cure
            replaced = []
            for other, other_params in settings.items():
                if other == name or other not in available or available[other].kind in ("core", "monitor"):
                    continue
                other_info = available[other]
                theirs = slots(other_info.cls, other_info.cls.Params.model_validate(other_params))
                if (slots(cls, params) & theirs) or other in cls.replaces or name in other_info.cls.replaces:
                    replaced.append(other)
            label = (
                name
                if len(suggestions) == 1
                else f"{name}({','.join(f'{k}={yaml_scalar(v)}' for k, v in suggestion.items())})"
            )
            found.append(
                Candidate(
                    {name: given},
                    tuple(replaced),
                    hit,
                    {name: change_text(before, dumped, suggestion)},
                    reparameterises=current is not None,
                    occurrences=sum(kinds[k] for k in hit),
                    label=label,
                )
            )
    return sorted(found, key=Candidate.rank_key)


def combinations_of(candidates: list[Candidate], top: int, max_size: int) -> list[Candidate]:
    """Combinations of 2..``max_size`` of the ``top`` ranked candidates that can be on together
    (different plugins, none switching off another's plugin), ranked like single ones."""
    best = candidates[:top]
    combos: list[Candidate] = []
    for size in range(2, max_size + 1):
        for group in itertools.combinations(best, size):
            plugins = [p for c in group for p in c.plugins]
            replaced = [r for c in group for r in c.replaced]
            if len(set(plugins)) < len(plugins) or set(plugins) & set(replaced):
                continue
            merged: Settings = {p: v for c in group for p, v in c.plugins.items()}
            combos.append(
                Candidate(
                    merged,
                    tuple(dict.fromkeys(replaced)),
                    tuple(dict.fromkeys(k for c in group for k in c.addresses)),
                    {p: t for c in group for p, t in c.changes.items()},
                    reparameterises=any(c.reparameterises for c in group),
                    occurrences=sum(c.occurrences for c in group),
                    label="+".join(c.name for c in group),
                    parts=tuple(group),
                    evidence=min(c.evidence for c in group),
                )
            )
    return sorted(combos, key=Candidate.rank_key)


def computed_lr_candidate(
    settings: Settings, kinds: Mapping[str, int], ratio: float, addresses: tuple[str, ...] = ()
) -> Candidate:
    """``lr_scale`` at the factor the LR range test computed: ``ratio`` = the suggested LR over the
    variant's current one (times the factor of an ``lr_scale`` the variant already has). It addresses
    the observed LR-type kinds and those ``lr_scale`` declares (``addresses``): it is that fix."""
    from harness.experiments.lr_range import lr_kinds

    current = settings.get("lr_scale")
    factor = float(f"{ratio * float((current or {}).get('factor', 1.0)):.3g}")
    lr_type = lr_kinds()
    hit = tuple(k for k in kinds if k in lr_type or k in addresses)
    before = f"factor: {yaml_scalar(current.get('factor', 0.1))} -> " if current is not None else "on: factor="
    return Candidate(
        {"lr_scale": {**(current or {}), "factor": factor}},
        (),
        hit,
        {"lr_scale": f"{before}{yaml_scalar(factor)} (LR range test)"},
        reparameterises=current is not None,
        occurrences=sum(kinds[k] for k in hit),
        label=f"lr_scale(factor={yaml_scalar(factor)})",
        computed=True,
    )


def with_computed(singles: list[Candidate], computed: Candidate | None, limit: int) -> list[Candidate]:
    """The ranked ``singles`` with the ``computed`` one (unless a fixed suggestion is the same),
    at most ``limit``, the computed one always among them."""
    if computed is None or any(c.plugins == computed.plugins for c in singles):
        return singles[:limit]
    ranked = sorted([computed, *singles[: limit - 1]], key=Candidate.rank_key)
    return ranked[:limit]


def evidence_of_fixes(declared: Mapping[str, Any], diagnosis: list[dict[str, Any]]) -> dict[str, int]:
    """Fix plugin -> the best verdict (:data:`~harness.core.diagnosis.VERDICT_ORDER`) of the observed
    kinds' causes that name it, from a diagnosis (:func:`harness.core.diagnosis.rank_causes`) and the
    declared causes (kind -> causes) it ranked."""
    from harness.core.diagnosis import VERDICT_ORDER

    verdicts = {(e["kind"], c["cause"]): VERDICT_ORDER[c["verdict"]] for e in diagnosis for c in e["causes"]}
    best: dict[str, int] = {}
    for kind, causes in declared.items():
        for cause in causes:
            verdict = verdicts.get((kind, cause.name))
            if verdict is None:
                continue
            for cure in cause.fixes:
                best[cure.plugin] = min(best.get(cure.plugin, 2), verdict)
    return best


def with_evidence(candidates: list[Candidate], evidence: Mapping[str, int]) -> list[Candidate]:
    """``candidates`` re-ranked with the evidence for their plugins (best of them; 1 when none names it)."""
    import dataclasses

    graded = [
        dataclasses.replace(c, evidence=min((evidence.get(p, 1) for p in c.plugins), default=1)) for c in candidates
    ]
    return sorted(graded, key=Candidate.rank_key)


def arm_on_scripts(info: Any) -> bool:
    """Whether a plugin can be an arm on a script: anything but a fix or bug the watcher cannot apply."""
    return info.kind not in ("fix", "bug") or bool(info.cls.acts_on_scripts)
