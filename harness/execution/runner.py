"""Running a scenario: which runs a suite has, running them on an executor, and its report.

The top of the running layer: :func:`plan_runs` lists a suite's (variant, seed) keys,
:func:`run_suite` checks the environment and the results directory, builds the run plan
(:func:`harness.execution.executor_base.suite_plan`) and hands it to an executor chosen by name from
:data:`EXECUTORS`, and :func:`suite_report` assembles the JSON report. The layers below
never import this module: an executor trains each run through
:func:`harness.execution.run_one.execute_run` and writes its record through :mod:`harness.execution.results`,
so each finished run is written atomically and nothing finished is lost when a suite is
interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from harness.execution.executor_base import ProgressSink, no_progress, suite_plan
from harness.execution.records import SCHEMA_VERSION, RunKey, RunRecord, torch_version
from harness.execution.results import unwritable_results
from harness.scenario import Scenario


def plan_runs(scenario: Scenario, variants: list[str] | None = None, seeds: list[int] | None = None) -> list[RunKey]:
    names = variants or list(scenario.variants)
    return [RunKey(v, s) for v in names for s in (seeds or scenario.seeds)]


Executed = Iterable[tuple[RunKey, RunRecord]]


def _local(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    jobs: int | None,
    address: str | None,
    start_method: str | None,
    **common: Any,
) -> Executed:
    from harness.execution.executor import execute_local

    return execute_local(scenario, keys, jobs=jobs or os.cpu_count() or 1, start_method=start_method, **common)


def _ray(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    jobs: int | None,
    address: str | None,
    start_method: str | None,
    **common: Any,
) -> Executed:
    from harness.execution.ray_executor import execute_ray

    return execute_ray(scenario, keys, address=address, jobs=jobs, **common)


#: executor name -> how to run a suite on it (imported when chosen: Ray is an optional extra)
EXECUTORS: dict[str, Callable[..., Executed]] = {"local": _local, "ray": _ray}


def run_suite(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    results_dir: Path,
    jobs: int | None = 1,
    timeout: float | None = None,
    device: str | None = None,
    resume: bool = False,
    progress: ProgressSink = no_progress,
    executor: str = "local",
    address: str | None = None,
    start_method: str | None = None,
    decide: bool = False,
    rule: Any = None,
) -> list[RunRecord]:
    """Run every key, ``jobs`` at once; records in ``keys`` order.

    ``decide``: decide early (:mod:`harness.judging.decisions`): a run stops at the end of the epoch
    where its variant's verdict is decided (status ``decided``), a variant's remaining seeds
    are skipped once its verdict is (status ``skipped``, never written), and the first seed
    of every variant starts before any second seed. ``rule``: the verdict of a variant is
    this :class:`~harness.scenario.expectations.PassRate` of runs passing every line (an ablation
    arm's ``--pass-rate``); None: each line at its own pass rate.

    ``executor="local"``: each run in a worker process on this machine (``jobs`` None: one
    per core); ``executor="ray"``: each run as a Ray task on the cluster at ``address``
    (None: ``$RAY_ADDRESS`` or a local Ray instance; ``jobs`` None: no cap).
    ``start_method`` (local only): ``fork``, ``spawn`` or ``forkserver`` for the workers
    (default: ``$HARNESS_START_METHOD``, else fork where the platform has it).
    Both write every record to ``results_dir`` as it finishes and give the same records.
    Before any run, :func:`harness.execution.environment.check_environment` (once per process) raises
    ``EnvironmentClash`` when the installed versions contradict harness's requirements.
    """
    from harness.execution.environment import check_environment

    check_environment()
    failed = unwritable_results(scenario, keys, Path(results_dir))
    if failed is not None:
        for key, record in zip(keys, failed, strict=False):
            progress(key, "done", record)
        return failed
    plan = suite_plan(scenario, keys, Path(results_dir), resume=resume, decide=decide, rule=rule)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}: local or ray")
    runs = EXECUTORS[executor](
        scenario,
        keys,
        results_dir=results_dir,
        jobs=jobs,
        address=address,
        start_method=start_method,
        timeout=timeout,
        device=device,
        resume=resume,
        progress=progress,
        plan=plan,
    )
    done = dict(runs)
    return [done[key] for key in keys]


def suite_report(scenario: Scenario, records: list[RunRecord]) -> dict[str, Any]:
    """The stable JSON report: versions, scenario, every run, per-variant seed statistics
    and verdicts (:mod:`harness.judging.verdicts`), and the overall verdict."""
    section = {
        "name": scenario.name,
        "path": str(scenario.path),
        "workload": scenario.workload,
        "workload_params": scenario.workload_params.model_dump(),
        "metrics": list(scenario.metrics),
        "key_metrics": list(scenario.key_metrics),
    }
    if scenario.source:
        section["source"] = scenario.source
    descriptions = {name: variant.description for name, variant in scenario.variants.items()}
    return report_payload(section, records, descriptions=descriptions)


def report_payload(
    scenario: dict[str, Any],
    records: list[RunRecord],
    *,
    descriptions: dict[str, str] | None = None,
    torch: str | None = None,
) -> dict[str, Any]:
    """The report's envelope around ``records`` for the ``scenario`` section given: versions,
    seeds, per-variant summaries (with ``descriptions``) and the overall verdict. One shape for
    a scenario's runs and for a watched script's (``harness watch``)."""
    from harness.core.version import __version__
    from harness.judging.verdicts import suite_passed, summarize_variants

    variants = summarize_variants(records, scenario.get("key_metrics", []))
    for name, summary in variants.items():
        if descriptions and name in descriptions:
            summary["description"] = descriptions[name]
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "torch_version": torch or torch_version(),
        "scenario": scenario,
        "seeds": sorted({r["seed"] for r in records}),
        "runs": records,
        "variants": variants,
        "passed": suite_passed(variants),
    }


def default_results_dir(scenario: Scenario) -> Path:
    return Path(".harness") / scenario.name
