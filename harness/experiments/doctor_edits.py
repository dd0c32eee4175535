"""The doctor's cure handed back as an edit to the user's own code: ``train.py:38: lr=3 -> lr=0.0118``.

On a script (``harness doctor -- python train.py``) the findings carry the line of the program that
explains them (``where``, ``source``: the watcher's sites). An edit says, at that line, the change
that makes the program do what the proven fix did from outside (each fix plugin's
:meth:`~harness.core.plugin.Plugin.script_edit`); when no fix was proven (or none can be applied
from outside: a softmax at the end of the model, labels shuffled apart from their inputs), the most
likely cause's cure in words, at the line of the finding it explains, marked as not proven.

Plain functions of the doctor's section and the variant's records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any


def first_site(records: Sequence[Mapping[str, Any]], kinds: Sequence[str]) -> Mapping[str, Any] | None:
    """The earliest finding of ``kinds`` (in the order given) that names a line of the program."""
    for kind in kinds:
        found = [(f, r) for r in records for f in r.get("findings", []) if f.get("kind") == kind and f.get("where")]
        if found:
            finding, record = min(found, key=lambda fr: (fr[0].get("epoch") or 0, fr[0].get("step") or 0))
            cwd = (record.get("train") or {}).get("cwd")
            return {**finding, "where": os.path.join(cwd, finding["where"]) if cwd else finding["where"]}
    return None


def script_lr(section: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> float | None:
    """The LR the script set: the range test's current LR, else the peak LR of a run's steps (a
    warmup's first steps are below it)."""
    test = section.get("lr_range") or {}
    if isinstance(test.get("current_lr"), (int, float)) and test["current_lr"] > 0:
        return float(test["current_lr"])
    for record in records:
        lrs = [v for v in record.get("lr_per_step") or [] if isinstance(v, (int, float))]
        if lrs:
            return float(max(lrs))
    return None


def _kinds_for(plugin: str, available: Mapping[str, Any], observed: Sequence[str]) -> list[str]:
    """The observed kinds a fix addresses, those shown at the fix's edit site first
    (``script_edit_site``: an LR is set where the optimizer is built)."""
    from harness.core.findings import site_of

    cls = available[plugin].cls
    addressed = [k for k in observed if k in tuple(cls.addresses)]
    if cls.script_edit_site is not None:
        addressed.sort(key=lambda k: site_of(k, available) != cls.script_edit_site)
    return addressed or list(observed)


def edits(
    section: Mapping[str, Any], records: Sequence[Mapping[str, Any]], available: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The edits to make: ``{where, source, edit, proven, why}`` each (``where`` None: no line known)."""
    observed = list(section.get("observed") or {})
    best = section.get("best")
    out = []
    if best is not None:
        lr = script_lr(section, records)
        for name, params in (best.get("plugins") or {}).items():
            if name not in available:
                continue
            plugin = available[name].cls(available[name].cls.Params(**dict(params)))
            text = plugin.script_edit(lr) or f"apply {name} ({params})"
            site = first_site(records, _kinds_for(name, available, observed))
            why = f"proven on {best['passed_runs']}/{best['runs']} seeds: {best['name']}"
            out.append(_edit(site, text, proven=True, why=why))
        return out
    from harness.core.diagnosis import most_likely

    likely = most_likely(section.get("diagnosis") or [])
    if not likely:
        return out
    cause = likely[0]
    kinds = [
        e["kind"] for e in section.get("diagnosis") or [] if any(c["cause"] == cause["cause"] for c in e["causes"])
    ]
    site = first_site(records, kinds or observed)
    tried = "no fix tried" if not section.get("candidates") else "no candidate cured it"
    return [_edit(site, cause["cure"], proven=False, why=f"the most likely cause: {cause['cause']} ({tried})")]


def _edit(site: Mapping[str, Any] | None, text: str, *, proven: bool, why: str) -> dict[str, Any]:
    return {
        "where": site.get("where") if site else None,
        "source": site.get("source") if site else None,
        "edit": text,
        "proven": proven,
        "why": why,
    }
