"""The run record: what one (variant, seed) run leaves behind, and how it is identified.

A record is a plain JSON-like dict (it is written as JSON and read back from saved reports
that no longer have their scenario); the :class:`RunRecord` ``TypedDict`` below is its
schema, field by field as docs/reports.md's "JSON report" section lists it. This module builds
the records every executor shares: the empty one before training (:func:`base_record`),
one that never ran (:func:`skipped_record`) and one whose worker or task left no result
(:func:`failed_record`), and the fingerprint ``--resume`` compares (:func:`run_fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast

from harness.judging.decisions import decide_run, decision_entries
from harness.scenario.entries import ExpectationEntry
from harness.scenario.expectations import evaluate_all

if TYPE_CHECKING:
    from harness.scenario import Scenario

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunKey:
    """One run of a suite: a variant trained with one seed."""

    variant: str
    seed: int

    @property
    def slug(self) -> str:
        return f"{self.variant}-seed{self.seed}"


# ------------------------------------------------------------------ the schema (docs/reports.md, "JSON report")


class Finding(TypedDict, total=False):
    """What a monitor found (:class:`harness.core.state.Finding`)."""

    kind: str
    epoch: int
    plugin: str
    message: str
    step: int
    value: Any
    detail: dict[str, float]  # measured values evidence reads (only findings that have them)


class NodeInfo(TypedDict, total=False):
    """``--executor ray``: the Ray node that trained a run."""

    id: str
    ip: str
    host: str
    attempts: int  # times Ray started the run
    lost: list[NodeInfo]  # the nodes of attempts that died under it


class ErrorInfo(TypedDict, total=False):
    """Why a run failed (status ``error`` or ``timeout``)."""

    message: str
    type: str  # the exception's class name
    plugin: str  # the plugin whose hook raised
    hook: str
    traceback: str
    transient: bool  # the machine failed, not the run (a lost Ray node): --resume reruns it
    node: NodeInfo  # --executor ray: the node it was lost with
    path: str  # a result that could not be written: where
    earlier: ErrorInfo  # the error the run had before its result could not be written


class DecidedInfo(TypedDict, total=False):
    """Status ``decided``: the run was stopped when its group's verdict was decided."""

    epoch: int
    verdict: bool  # the group's: passes or not
    by: str | None  # the line or pass-rate row that decided
    run_verdict: bool | None  # this run's
    group: str  # its variant / ablation arm
    seeds_before: list[int]
    runs_after: int
    rule: str | None  # --pass-rate
    context: str  # a digest of what it knew, for --resume


class SkippedInfo(TypedDict, total=False):
    """Status ``skipped``: not run, its group's verdict was decided without it."""

    reason: str
    after_seeds: list[int]
    verdict: bool
    by: str | None


class _RunRecordFields(TypedDict):
    variant: str
    seed: int
    fingerprint: str  # :func:`run_fingerprint`
    status: str  # ok | stopped | diverged | error | timeout | decided | skipped
    seconds: float
    plugins: dict[str, dict[str, Any]]  # the active plugins, with their parameters
    train: dict[str, Any]  # the effective train config
    history: list[dict[str, Any]]  # per epoch: "epoch", the workload's metrics, "loss", "lr", "steps"
    findings: list[Finding]
    expectations: list[ExpectationEntry]
    trace: dict[str, dict[str, int]]  # hook -> plugin -> times it acted
    outcomes: dict[str, Any]  # what plugins recorded (docs/reports.md: ``outcomes``)
    lr_per_step: list[float]
    steps: int


class RunRecord(_RunRecordFields, total=False):
    """A run record (docs/reports.md, "JSON report": ``runs[]``); the optional fields below."""

    stop_reason: str
    diverged_at_step: int
    decided: DecidedInfo
    skipped: SkippedInfo
    error: ErrorInfo
    node: NodeInfo
    exit: int  # a script run: the program's exit code (-N: killed by signal N)


# ------------------------------------------------------------------ building records


def torch_version() -> str:
    """The running PyTorch's version: what ``when: {torch: ...}`` lines are judged against. Read
    from torch when it is loaded, else from its installed metadata (importing torch costs ~2 s:
    ``harness watch`` of a program that never imports torch must not pay it)."""
    import sys

    if "torch" not in sys.modules:
        from importlib import metadata

        try:
            return metadata.version("torch")
        except metadata.PackageNotFoundError:
            pass
    import torch

    version: str = torch.__version__  # a TorchVersion, a str subclass (torch is not followed by mypy)
    return version


def run_fingerprint(scenario: Scenario, key: RunKey) -> str:
    """A hash of everything that determines a run's result (for ``--resume``)."""
    variant = scenario.variants[key.variant]
    blob = json.dumps(
        {
            "workload": [scenario.workload, scenario.workload_params.model_dump()],
            "plugins": {n: p.model_dump() for n, p in sorted(variant.plugins.items())},
            "train": variant.train.model_dump(),
            "expect": [
                e.text + str(e.when_torch) + (f" pass_rate {e.pass_rate.text}" if e.pass_rate else "")
                for e in variant.expectations
            ],
            "seed": key.seed,
        }
        | ({"script": variant.script.model_dump()} if variant.script is not None else {}),
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_record(scenario: Scenario, key: RunKey) -> RunRecord:
    """A run record before training: what will run (each plugin's parameters that apply), and empty results."""
    from harness.core.plugin import shown_params
    from harness.core.run_record import new_record

    variant = scenario.variants[key.variant]
    record = new_record(
        key.variant,
        key.seed,
        fingerprint=run_fingerprint(scenario, key),
        plugins={name: shown_params(params) for name, params in variant.plugins.items()},
        train=variant.train.model_dump(),
    )
    return cast("RunRecord", record)


def judge(scenario: Scenario, key: RunKey, record: RunRecord) -> RunRecord:
    """``record`` with its ``expectations`` judged as at the end of a run (the variant's lines)."""
    record["expectations"] = evaluate_all(scenario.variants[key.variant].expectations, record, torch_version())
    return record


def timeout_error(timeout: float | None) -> ErrorInfo:
    """The ``error`` of a run stopped for running past the per-run timeout."""
    return {"message": f"run exceeded the per-run timeout of {timeout:g} s and was stopped"}


def failed_record(
    scenario: Scenario, key: RunKey, *, status: str, error: ErrorInfo, history: list[dict[str, Any]], seconds: float
) -> RunRecord:
    """The record of a run whose worker or task left no result (it timed out, died or lost its
    node): the epochs it reported before, how long it ran, why it failed, its lines judged."""
    record = base_record(scenario, key)
    record["history"] = history
    record["seconds"] = round(seconds, 3)
    record["status"] = status
    record["error"] = error
    return judge(scenario, key, record)


def skipped_record(scenario: Scenario, key: RunKey, reason: str) -> RunRecord:
    """The record of a run left out because its group's verdict was already decided
    (:class:`harness.judging.decisions.RunPlan`): status ``skipped``, every line open; never written
    to the results directory (it is no result)."""
    record = base_record(scenario, key)
    record["status"] = "skipped"
    record["skipped"] = {"reason": reason}
    expectations = scenario.variants[key.variant].expectations
    record["expectations"] = decision_entries(
        decide_run(expectations, record, torch_version=torch_version()), expectations
    )
    return record
