"""What a finding may mean: the causes a monitor declares for each kind it emits, and how to rank them.

A monitor knows its finding kinds best, so it declares, for each, the likely causes
(:class:`Cause`): what went wrong in the user's terms, the cure as a code or configuration
change, the plugin that applies it when one exists, and a test of the evidence (a plain
function of the run records) that supports the cause, leaves it open or rules it out.
``harness doctor`` (:func:`rank_causes`) orders them by that evidence for the findings a
run showed and prints them whether or not a plugin can apply the cure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
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
class Cure:
    """A cure harness can apply: a fix plugin and its parameters, as a scenario's ``plugins:`` entry
    would set them (validated against the plugin's ``Params`` by the tests)."""

    plugin: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        """``lr_scale``, or ``linear_warmup: {interval: step}`` (the YAML of the entry)."""
        if not self.params:
            return self.plugin
        import yaml

        return f"{self.plugin}: {yaml.safe_dump(dict(self.params), default_flow_style=True).strip()}"


@dataclass(frozen=True)
class Cause:
    """One likely cause of a finding kind, as a monitor declares it.

    ``cure`` is the change in the user's terms (a line to remove, a call to add, a setting);
    ``fixes`` the harness plugins that apply it (:class:`Cure`, the first one the one reports
    name), empty when the cure is the user's code.
    """

    name: str
    why: str
    cure: str
    fixes: tuple[Cure, ...] = ()
    evidence: EvidenceTest = no_evidence

    @property
    def plugin(self) -> str | None:
        """The first fix as reports show it (``linear_warmup: {interval: step}``), or None."""
        return str(self.fixes[0]) if self.fixes else None


def rank_causes(
    kinds: Mapping[str, int],
    declared: Mapping[str, Sequence[Cause]],
    records: Sequence[Mapping[str, Any]],
    structural: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Per observed kind (most seen first), its declared causes ranked by the evidence in ``records``;
    an entry of a ``structural`` kind (:func:`harness.core.findings.structural_kinds`) says so.

    A cause declared for several observed kinds is listed under each (its evidence read once),
    marked ``repeat`` after the first so a report tells it once. A test that fails on unusual
    records leaves its cause ``possible`` (its error as the evidence).
    """
    out, judged = [], {}
    for kind in sorted(kinds, key=lambda k: (-kinds[k], k)):
        ranked = []
        for order, cause in enumerate(declared.get(kind, ())):
            repeat = cause.name in judged
            if not repeat:
                judged[cause.name] = _evidence(cause, records)
            verdict, text = judged[cause.name]
            ranked.append((VERDICT_ORDER[verdict], order, cause, verdict, text, repeat))
        ranked.sort(key=lambda item: item[:2])
        causes = [
            {"cause": c.name, "why": c.why, "verdict": v, "evidence": t, "cure": c.cure, "plugin": c.plugin}
            | ({"repeat": True} if r else {})
            for _, _, c, v, t, r in ranked
        ]
        out.append(
            {"kind": kind, "runs": kinds[kind], "causes": causes} | ({"structural": True} if kind in structural else {})
        )
    return out


def _evidence(cause: Cause, records: Sequence[Mapping[str, Any]]) -> Evidence:
    try:
        return cause.evidence(records)
    except Exception as exc:  # noqa: BLE001 - evidence is advice: never fail the diagnosis
        return "possible", f"(the evidence could not be read: {type(exc).__name__})"


def declared_causes(plugins: Mapping[str, Any]) -> dict[str, list[Cause]]:
    """Every finding kind's causes, from the ``causes`` the installed monitors declare."""
    found: dict[str, list[Cause]] = {}
    for info in plugins.values():
        for kind, causes in getattr(info.cls, "causes", {}).items():
            found.setdefault(kind, []).extend(causes)
    return found


def most_likely(diagnosis: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every cause of a diagnosis (:func:`rank_causes`) ranked across its kinds: the evidence's verdict
    first; then a cause that is the only one declared for an observed *structural* kind (a fact
    only it explains, such as the model seen in eval() mode while training, outweighs symptoms
    many causes share; a symptom of how training went, clamped outputs, does not); then how many of the observed kinds declare it (a cause that explains more of what was
    seen is likelier), then the order the kinds and causes came in."""
    from collections import Counter

    explains: Counter[str] = Counter()
    sole: set[str] = set()
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for entry in diagnosis:
        if len(entry["causes"]) == 1 and entry.get("structural"):
            sole.add(entry["causes"][0]["cause"])
        for cause in entry["causes"]:
            explains[cause["cause"]] += 1
            first.setdefault(cause["cause"], (len(first), dict(cause)))
    order = sorted(
        first.values(),
        key=lambda item: (
            VERDICT_ORDER[item[1]["verdict"]],
            item[1]["cause"] not in sole,
            -explains[item[1]["cause"]],
            item[0],
        ),
    )
    return [cause | {"explains": explains[cause["cause"]]} for _, cause in order]
