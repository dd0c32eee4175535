"""The run record every training loop leaves behind, built and serialised one way.

Three loops train and record: the core loop (through ``execution/run_one.py``), ``harness
watch`` (``integrations/watch``) and the transformers Trainer callback. All three build their
record here: :func:`new_record` (what will run, and empty results) and :func:`state_results`
(what the run left in its :class:`~harness.core.state.TrainState` and hook trace), so a field
means the same in each, and the doctor's evidence reads a watched run like a replayed one.
One serialisation, :func:`record_to_json` / :func:`record_from_json`, writes and reads every
record (a result file, a watched process's record). The schema, field by field, is
``execution/records.RunRecord`` (docs/reports.md, "JSON report").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.core.state import TrainState


def new_record(
    variant: str,
    seed: int,
    *,
    plugins: Mapping[str, Mapping[str, Any]],
    train: Mapping[str, Any],
    fingerprint: str = "",
    status: str = "error",
    seconds: float = 0.0,
) -> dict[str, Any]:
    """A run record before (or without) training: what runs, with empty results."""
    return {
        "variant": variant,
        "seed": seed,
        "fingerprint": fingerprint,
        "status": status,
        "seconds": seconds,
        "plugins": {name: dict(params) for name, params in plugins.items()},
        "train": dict(train),
        "history": [],
        "findings": [],
        "expectations": [],
        "trace": {},
        "outcomes": {},
        "lr_per_step": [],
        "steps": 0,
    }


def state_results(
    state: TrainState | None, trace: Any = None, *, findings: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The record's fields a run fills: its ``trace`` (a :class:`~harness.core.pluginmanager.Trace`),
    and from ``state`` its history, findings (``findings``: as given, e.g. watch's with the user's
    line), outcomes, LR per step, steps, and how it stopped (``stop_reason``,
    ``diverged_at_step``, only when set). A run that built no state has only its trace."""
    out: dict[str, Any] = {} if trace is None else {"trace": trace.as_dict()}
    if state is None:
        return out
    out["history"] = state.history
    out["findings"] = [dict(f) for f in findings] if findings is not None else [f.to_dict() for f in state.findings]
    out["outcomes"] = dict(state.outcomes)
    out["lr_per_step"] = state.lr_per_step
    out["steps"] = state.step
    if state.stop_reason:
        out["stop_reason"] = state.stop_reason
    if state.diverged_at_step is not None:
        out["diverged_at_step"] = state.diverged_at_step
    return out


def json_default(value: Any) -> Any:
    """What ``json.dumps`` writes for a value it does not know: a tensor's or array's number(s),
    else its ``str``."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def record_to_json(record: Mapping[str, Any]) -> str:
    """A run record as JSON (indented; numpy/torch scalars and arrays as numbers and lists)."""
    return json.dumps(record, indent=1, default=json_default)


def record_from_json(text: str) -> dict[str, Any]:
    """A run record written by :func:`record_to_json`. :raises ValueError: not JSON, or not an object."""
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError(f"a run record is a JSON object, not {type(record).__name__}")
    return record
