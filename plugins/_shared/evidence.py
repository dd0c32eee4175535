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

from harness.core.diagnosis import Evidence, EvidenceTest, Verdict
from harness.core.metrics import class_counts
from harness.core.pluginmanager import kinds_with

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
        verdict: Verdict = "rules out" if otherwise == "rules out" else "possible"
        return verdict, f"no {' or '.join(kinds)} finding"

    return with_kinds(test, kinds)


def config(field: str, above: float, unit: str = "") -> EvidenceTest:
    """Supports the cause when the training config's ``field`` is above ``above``."""

    def test(records: Records) -> Evidence:
        value = (records[0].get("train") or {}).get(field) if records else None
        if not isinstance(value, (int, float)):
            return "possible", f"train.{field} unknown"
        verdict: Verdict = "supports" if value > above else "rules out"
        return verdict, f"train.{field} = {value:g}{unit}"

    return test


#: a bad initial loss says the run was broken before any step only when far above log(C) (>= 10x):
#: an LR too high already spoils the second and third batches the initial loss is read on
FAR_ABOVE_CHANCE = 10.0


def with_kinds(test: EvidenceTest, kinds: Sequence[str]) -> EvidenceTest:
    """``test``, marked with the finding ``kinds`` it reads (checked against the installed monitors')."""
    test.kinds = tuple(kinds)  # type: ignore[attr-defined]
    return test


def broken_before_stepping() -> tuple[str, ...]:
    """Findings that say the run was broken before any step (the kinds declaring that role)."""
    return kinds_with("broken_before_stepping")


def other_stalls() -> tuple[str, ...]:
    """Findings of a mechanism other than the labels that stops a model from learning."""
    return kinds_with("stall")


def overshoot() -> tuple[str, ...]:
    """What an LR that overshoots does to the loss itself."""
    return kinds_with("overshoot")


def seen_before_overshoot(*kinds: str) -> EvidenceTest:
    """Supports the cause when one of ``kinds`` was found and the loss had not overshot before it: units
    that die after an explosion or oscillation were killed by the steps that overshot (a too-high LR),
    not by how they started."""

    def test(records: Records) -> Evidence:
        verdict, text = seen(*kinds)(records)
        if verdict != "supports":
            return verdict, text
        first = findings(records, kinds)[0]
        earlier = [
            f
            for f in findings(records, overshoot())
            if (f.get("epoch") or 0, f.get("step") or 0) < (first.get("epoch") or 0, first.get("step") or 0)
        ]
        if earlier:
            where = f"epoch {earlier[0].get('epoch')}"
            return "possible", f"but {earlier[0]['kind']} came first ({where}): steps that overshoot kill units too"
        return verdict, text

    return with_kinds(test, kinds)


def lr_at_first(*kinds: str) -> EvidenceTest:
    """The LR at the step of the first finding of ``kinds``: supports a too-high LR when the loss
    overshot (an explosion or oscillation) at the run's peak LR (not while still warming up), and
    nothing shows the run was broken before its first step."""

    def test(records: Records) -> Evidence:
        found = findings(records, kinds)
        if not found:
            return "possible", f"no {' or '.join(kinds)} finding"
        before = findings(records, broken_before_stepping()) + far_above_chance(records)
        if before:
            return "possible", f"but {before[0]['kind']} says the run was broken before the LR could act"
        if not findings(records, overshoot()):
            return "possible", "the loss never exploded or oscillated"
        first = found[0]
        run = next(r for r in records if first in r.get("findings", []))
        lrs = [v for v in run.get("lr_per_step", []) if isinstance(v, (int, float))]
        step = first.get("step")
        if not lrs or not isinstance(step, int) or not 1 <= step <= len(lrs):
            return "possible", f"{first['kind']} at epoch {first.get('epoch')}; LR of that step unknown"
        lr, peak = lrs[step - 1], max(lrs)
        where = f"{first['kind']} first at step {step}, LR {lr:.3g} (the run's peak LR {peak:.3g})"
        if lr >= 0.5 * peak:
            return "supports", where
        at_peak = [  # a warmup's early explosion that goes on once the LR is up is the LR's too
            f
            for f in found
            if f in run.get("findings", []) and isinstance(f.get("step"), int) and 1 <= f["step"] <= len(lrs)
            if lrs[f["step"] - 1] >= 0.5 * peak
        ]
        if at_peak:
            return "supports", f"{where}; again at step {at_peak[0]['step']}, LR {lrs[at_peak[0]['step'] - 1]:.3g}"
        return "possible", where

    return with_kinds(test, kinds)


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


def far_above_chance(records: Records) -> list[Mapping[str, Any]]:
    """The ``bad_initial_loss`` findings whose initial loss is at least 10x log(C)."""
    return [f for f in findings(records, ("bad_initial_loss",)) if (_initial_ratio(f) or 0) >= FAR_ABOVE_CHANCE]


def loss_near_chance(records: Records) -> Evidence:
    """Supports labels that carry no signal: the last epoch's training loss is still near log(C)
    (0.8-1.2x) and no other mechanism that stops learning was found."""
    ratios = []
    for run in records:
        history = run.get("history", [])
        if not history:
            continue
        classes = len(class_counts(history[-1]))
        loss = history[-1].get("loss")
        if classes >= 2 and isinstance(loss, (int, float)) and math.isfinite(loss):
            ratios.append(loss / math.log(classes))
    if not ratios:
        return "possible", "no classifier loss to compare with log(C)"
    worst = min(ratios)
    text = f"final training loss {worst:.0%} of log(C) (a model that learns nothing stays near 100%)"
    if not 0.8 <= worst <= 1.2:
        return "rules out", text
    other = findings(records, other_stalls())
    if other:
        return "possible", f"{text}, but {other[0]['kind']} explains it too"
    return "supports", text


def loss_ratio_near_batch_size(records: Records) -> Evidence:
    """Supports a summed loss: the initial loss is about ``batch_size`` x log(C) (``bad_initial_loss``'s
    ratio within 50% of the batch size), the signature of a sum over the batch."""
    found = findings(records, ("bad_initial_loss",))
    if not found:
        return "rules out", "no bad_initial_loss finding"
    batch = (records[0].get("train") or {}).get("batch_size")
    ratio = _initial_ratio(found[0])
    if not isinstance(batch, int) or ratio is None:
        return "possible", "the initial loss's ratio to log(C) is unknown"
    # an untrained model's loss is 1-3x log(C) per item: summed over the batch, 0.5-4x the batch size
    verdict: Verdict = "supports" if 0.5 * batch <= ratio <= 4 * batch else "rules out"
    return verdict, f"initial loss {ratio:.0f} x log(C), batch size {batch}"


def scaled_inputs(records: Records) -> Evidence:
    """Supports unnormalised inputs: a feature on another scale, or an initial loss far above log(C) that
    is not the batch size's multiple (a summed loss's)."""
    if findings(records, ("data_feature_scale",)):
        return seen("data_feature_scale")(records)
    summed = loss_ratio_near_batch_size(records)
    if summed[0] == "supports":
        return "possible", f"{summed[1]}: a summed loss fits better"
    far = far_above_chance(records)
    if far:
        return "supports", f"{far[0]['kind']}: {far[0].get('message', '')}"
    return "possible", "no initial loss far above log(C)"


def regression_collapse(records: Records) -> Evidence:
    """Supports a regression loss that lost the inputs: a regression (its history has ``target_std``)
    whose predictions barely vary (``mode_collapse``)."""
    regression = any("target_std" in h for r in records for h in r.get("history", []))
    if not regression:
        return "rules out", "not a regression"
    return seen("mode_collapse")(records)


def _initial_ratio(finding: Mapping[str, Any]) -> float | None:
    """``bad_initial_loss``'s recorded ratio of the initial loss to log(C) (its ``detail``), None when
    not recorded; never parsed from the message."""
    ratio = (finding.get("detail") or {}).get("ratio_to_log_c")
    return float(ratio) if isinstance(ratio, (int, float)) else None


def lr_zero_unexplained(records: Records) -> Evidence:
    """Supports an LR of (nearly) 0 as the cause itself when an LR-zero finding is there and no
    schedule stepped at the wrong time explains it (that cause is then the one to fix)."""
    verdict, text = seen("lr_zero", "schedule_mismatch")(records)
    if verdict == "supports" and (
        stepped_per_epoch(records)[0] == "supports" or findings(records, ("schedule_mismatch",))
    ):
        return "possible", f"{text}; the scheduler's stepping explains it"
    return verdict, text


def weights_still_unexplained(records: Records) -> Evidence:
    """Supports an optimizer over other parameters when the weights did not move, unless the LR was
    (near) 0: an LR of 0 explains unmoved weights by itself, so it rules that cause out."""
    zero = findings(records, ("lr_zero",))
    if zero:
        return "rules out", f"the LR was (near) 0 ({zero[0].get('message', 'lr_zero')}): that explains unmoved weights"
    return seen("weights_not_updating")(records)


with_kinds(weights_still_unexplained, ("weights_not_updating", "lr_zero"))
