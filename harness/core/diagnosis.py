"""What a finding may mean: the causes a monitor declares for each kind it emits, and how to rank them.

A monitor knows its finding kinds best, so it declares, for each, the likely causes
(:class:`Cause`): what went wrong in the user's terms, the cure as a code or configuration
change, the plugin that applies it when one exists, and a test of the evidence (a plain
function of the run records) that supports the cause, leaves it open or rules it out.
``harness doctor`` (:func:`rank_causes`) orders them by that evidence for the findings a
run showed and prints them whether or not a plugin can apply the cure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: how the evidence bears on a cause, strongest first
Verdict = Literal["supports", "possible", "rules out"]
VERDICT_ORDER: dict[str, int] = {"supports": 0, "possible": 1, "rules out": 2}

#: ``(verdict, what was seen)`` from a variant's run records
Evidence = tuple[Verdict, str]
EvidenceTest = Callable[[Sequence[Mapping[str, Any]]], Evidence]


def no_evidence(records: Sequence[Mapping[str, Any]]) -> Evidence:
    """The default test: nothing in the records speaks for or against the cause."""
    return "possible", "nothing in the run says more"


@dataclass(frozen=True)
class Cause:
    """One likely cause of a finding kind, as a monitor declares it.

    ``cure`` is the change in the user's terms (a line to remove, a call to add, a setting);
    ``plugin`` the harness plugin setting that applies it (``"lr_scale"``,
    ``"linear_warmup: {interval: step}"``), or None when the cure is the user's code.
    """

    name: str
    why: str
    cure: str
    plugin: str | None = None
    evidence: EvidenceTest = no_evidence


def rank_causes(
    kinds: Mapping[str, int], declared: Mapping[str, Sequence[Cause]], records: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per observed kind (most seen first), its declared causes ranked by the evidence in ``records``.

    A cause declared for several observed kinds is kept once, under the first. A test that
    fails on unusual records leaves its cause ``possible`` (its error as the evidence).
    """
    out, seen = [], set()
    for kind in sorted(kinds, key=lambda k: (-kinds[k], k)):
        ranked = []
        for order, cause in enumerate(declared.get(kind, ())):
            if cause.name in seen:
                continue
            seen.add(cause.name)
            try:
                verdict, text = cause.evidence(records)
            except Exception as exc:  # noqa: BLE001 - evidence is advice: never fail the diagnosis
                verdict, text = "possible", f"(the evidence could not be read: {type(exc).__name__})"
            ranked.append((VERDICT_ORDER[verdict], order, cause, verdict, text))
        ranked.sort(key=lambda item: item[:2])
        causes = [
            {"cause": c.name, "why": c.why, "verdict": v, "evidence": t, "cure": c.cure, "plugin": c.plugin}
            for _, _, c, v, t in ranked
        ]
        out.append({"kind": kind, "runs": kinds[kind], "causes": causes})
    return out


def declared_causes(plugins: Mapping[str, Any]) -> dict[str, list[Cause]]:
    """Every finding kind's causes, from the ``causes`` the installed monitors declare."""
    found: dict[str, list[Cause]] = {}
    for info in plugins.values():
        for kind, causes in getattr(info.cls, "causes", {}).items():
            found.setdefault(kind, []).extend(causes)
    return found
