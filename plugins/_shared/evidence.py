"""Evidence tests the monitors' declared causes use: plain functions of a variant's run records.

Each factory returns a test ``records -> (verdict, what was seen)`` for a
:class:`harness.core.diagnosis.Cause`. They read only what every run record holds (its
findings, per-epoch history, LR of every step, training config), so a cause is ranked the
same way for a scenario's run and a watched script's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.diagnosis import Evidence, EvidenceTest

Records = Sequence[Mapping[str, Any]]


def findings(records: Records, kinds: Sequence[str]) -> list[Mapping[str, Any]]:
    """Every finding of ``kinds`` in the records, earliest epoch first."""
    found = [f for r in records for f in r.get("findings", []) if f.get("kind") in kinds]
    return sorted(found, key=lambda f: (f.get("epoch") or 0, f.get("step") or 0))


def _share(records: Records, kinds: Sequence[str]) -> str:
    hit = sum(1 for r in records if any(f.get("kind") in kinds for f in r.get("findings", [])))
    return f"{hit}/{len(records)} run(s)"


def seen(*kinds: str, otherwise: str = "possible") -> EvidenceTest:
    """Supports the cause when one of ``kinds`` was found (quoting the first finding), else ``otherwise``."""

    def test(records: Records) -> Evidence:
        found = findings(records, kinds)
        if found:
            first = found[0]
            return "supports", f"{first['kind']} in {_share(records, kinds)}: {first.get('message', '')}"
        verdict = "rules out" if otherwise == "rules out" else "possible"
        return verdict, f"no {' or '.join(kinds)} finding"

    return test


def config(field: str, above: float, unit: str = "") -> EvidenceTest:
    """Supports the cause when the training config's ``field`` is above ``above``."""

    def test(records: Records) -> Evidence:
        value = (records[0].get("train") or {}).get(field) if records else None
        if not isinstance(value, (int, float)):
            return "possible", f"train.{field} unknown"
        verdict = "supports" if value > above else "rules out"
        return verdict, f"train.{field} = {value:g}{unit}"

    return test


def lr_at_first(*kinds: str) -> EvidenceTest:
    """The LR at the step of the first finding of ``kinds``: supports a too-high LR when that LR is the
    run's peak (the damage came at full LR, not while it was still warming up)."""

    def test(records: Records) -> Evidence:
        found = findings(records, kinds)
        if not found:
            return "possible", f"no {' or '.join(kinds)} finding"
        first = found[0]
        run = next(r for r in records if first in r.get("findings", []))
        lrs = [v for v in run.get("lr_per_step", []) if isinstance(v, (int, float))]
        step = first.get("step")
        if not lrs or not isinstance(step, int) or not 1 <= step <= len(lrs):
            return "possible", f"{first['kind']} at epoch {first.get('epoch')}; LR of that step unknown"
        lr, peak = lrs[step - 1], max(lrs)
        where = f"{first['kind']} first at step {step}, LR {lr:.3g} (the run's peak LR {peak:.3g})"
        return ("supports" if lr >= 0.5 * peak else "possible"), where

    return test


def stepped_per_epoch(records: Records) -> Evidence:
    """Supports a per-step schedule stepped once per epoch: the LR changes only at epoch boundaries."""
    for run in records:
        lrs = run.get("lr_per_step", [])
        per_epoch = (run.get("steps") or 0) // max(1, len(run.get("history", [])) or 1)
        if len(lrs) < 4 or per_epoch < 2:
            continue
        changes = [i for i in range(1, len(lrs)) if lrs[i] != lrs[i - 1]]
        if changes and all(i % per_epoch == 0 for i in changes):
            return "supports", f"the LR changed only at epoch boundaries ({len(changes)} change(s) in {len(lrs)} steps)"
        if changes:
            return "rules out", f"the LR changed within epochs ({len(changes)} changes in {len(lrs)} steps)"
    return "possible", "the LR never changed, or too few steps to tell"


def loss_near_chance(records: Records) -> Evidence:
    """Supports labels that carry no signal: the last epoch's training loss is still near log(C)."""
    ratios = []
    for run in records:
        history = run.get("history", [])
        if not history:
            continue
        classes = sum(1 for key in history[-1] if key.startswith("pred_share_"))
        loss = history[-1].get("loss")
        if classes >= 2 and isinstance(loss, (int, float)) and math.isfinite(loss):
            ratios.append(loss / math.log(classes))
    if not ratios:
        return "possible", "no classifier loss to compare with log(C)"
    worst = min(ratios)
    verdict = "supports" if worst >= 0.8 else "rules out"
    return verdict, f"final training loss {worst:.0%} of log(C) (a model that learns nothing stays near 100%)"
