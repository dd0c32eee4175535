"""Running a scenario: one run per (variant, seed), each recorded and written on its own.

A run never raises: a plugin exception ends it with status ``error`` (naming the plugin
and hook, the exception's type and the traceback kept in the record), a non-finite loss
with ``diverged``; only Ctrl-C (``KeyboardInterrupt``) goes on up. Either way the run is
shut down cleanly first (:func:`release_run`: no DataLoader worker left, CUDA cache emptied). Each
finished run is written atomically to the results directory, so nothing finished is
lost when a suite is interrupted.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from harness.expectations import evaluate_all, expects_divergence
from harness.scenario import Scenario

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunKey:
    variant: str
    seed: int

    @property
    def slug(self) -> str:
        return f"{self.variant}-seed{self.seed}"


def torch_version() -> str:
    import torch

    return torch.__version__


def plan_runs(scenario: Scenario, variants: list[str] | None = None, seeds: list[int] | None = None) -> list[RunKey]:
    names = variants or list(scenario.variants)
    return [RunKey(v, s) for v in names for s in (seeds or scenario.seeds)]


_WORKLOADS: dict[tuple[str, str], Any] = {}


def _workload(scenario: Scenario) -> Any:
    """One workload instance per process and configuration, so data loads once."""
    from harness.workloads import workload_class

    key = (scenario.workload, scenario.workload_params.model_dump_json())
    if key not in _WORKLOADS:
        _WORKLOADS[key] = workload_class(scenario.workload)(scenario.workload_params)
    return _WORKLOADS[key]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file next to it and a rename, so a reader
    finds the previous file or the new one, never half of one. When the write fails (a full
    disk, no permission, a file where a directory should be) the ``OSError`` propagates, the
    previous file is untouched and the temporary file is removed."""
    import contextlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: Any) -> None:
    write_atomic(path, json.dumps(payload, indent=1, default=_json_default))


def os_error_text(exc: OSError) -> str:
    """The OS error without the file name (``[Errno 28] No space left on device``): the messages
    that use it name the path themselves, as the final path rather than a temporary file."""
    if exc.errno is not None and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


def write_failed(record: dict[str, Any], what: str, path: Path, exc: OSError) -> dict[str, Any]:
    """``record`` as a run that could not write ``what`` at ``path``: status ``error`` (a run
    that had already timed out keeps ``timeout``) and a one-line message naming the path and the
    OS error; the traceback, and any error the run already had, stay in ``record["error"]``."""
    failed = dict(record)
    if failed.get("status") not in ("error", "timeout"):
        failed["status"] = "error"
    error: dict[str, Any] = {
        "message": f"cannot write {what} {path}: {os_error_text(exc)}",
        "path": str(path),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    earlier = record.get("error")
    if earlier:
        error["message"] += f"; before that: {earlier.get('message')}"
        error["earlier"] = earlier
    failed["error"] = error
    return failed


def save_result(results_dir: Path, key: RunKey, record: dict[str, Any]) -> dict[str, Any]:
    """Write ``record`` as the result of ``key`` (atomically) and return it; when the write
    fails, the record returned says so (:func:`write_failed`) and nothing written is touched."""
    path = result_path(results_dir, key)
    try:
        write_json_atomic(path, record)
    except OSError as exc:
        return write_failed(record, "the result", path, exc)
    return record


def unwritable_results(scenario: Scenario, keys: list[RunKey], results_dir: Path) -> list[dict[str, Any]] | None:
    """Before any run: create ``results_dir/results`` and write a probe file there. When that
    fails (the path is a file, permission denied), every run's record with status ``error``
    naming the directory and the OS error, without training; else None."""
    directory = Path(results_dir) / "results"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        records = []
        for key in keys:
            record = base_record(scenario, key)
            record["expectations"] = evaluate_all(scenario.variants[key.variant].expectations, record, torch_version())
            records.append(write_failed(record, "the results directory", directory, exc))
        return records
    return None


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def run_fingerprint(scenario: Scenario, key: RunKey) -> str:
    """A hash of everything that determines a run's result (for ``--resume``)."""
    import hashlib

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
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_record(scenario: Scenario, key: RunKey) -> dict[str, Any]:
    """A run record before training: what will run, and empty results."""
    variant = scenario.variants[key.variant]
    return {
        "variant": key.variant,
        "seed": key.seed,
        "fingerprint": run_fingerprint(scenario, key),
        "status": "error",
        "seconds": 0.0,
        "plugins": {name: params.model_dump() for name, params in variant.plugins.items()},
        "train": variant.train.model_dump(),
        "history": [],
        "findings": [],
        "expectations": [],
        "trace": {},
        "outcomes": {},
        "lr_per_step": [],
        "steps": 0,
    }


def result_path(results_dir: Path, key: RunKey) -> Path:
    return Path(results_dir) / "results" / f"{key.slug}.json"


def read_result(results_dir: Path, key: RunKey) -> dict[str, Any] | None:
    """A run's written result, or None when missing or corrupt (a corrupt one is re-run)."""
    try:
        record = json.loads(result_path(results_dir, key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("variant") != key.variant or record.get("seed") != key.seed:
        return None
    return record


def reusable_result(results_dir: Path, scenario: Scenario, key: RunKey) -> dict[str, Any] | None:
    """The written result of ``key`` if it exists, parses and has this configuration's fingerprint,
    and is not a ``transient`` error (the machine under the run failed, e.g. a lost Ray node:
    such a run is run again)."""
    existing = read_result(results_dir, key)
    if existing is not None and existing.get("fingerprint") == run_fingerprint(scenario, key):
        if existing.get("status") == "error" and (existing.get("error") or {}).get("transient"):
            return None
        return existing
    return None


def release_run(state: Any, children_before: frozenset[int] = frozenset()) -> None:
    """The clean shutdown of a run, however it ended (the incident's ``try/finally``).

    Stops the loaders' worker processes (:func:`harness.loop.shutdown_loaders`) and drops
    the loaders; collects garbage, so an epoch's iterator that only an exception's frames
    still held shuts its workers down too; ends any process the run started and left
    behind (:func:`harness.processes.end_new_children`; ``children_before``: the pids that
    were there before the run), which also closes every file those held; and on CUDA
    empties the allocator's cache and resets its peak statistics, so the next run in this
    process starts from a clean slate and measures its own peak.
    """
    import gc

    from harness.loop import shutdown_loaders
    from harness.processes import end_new_children

    if state is not None:
        shutdown_loaders(state)
        state.train_loader = state.val_loader = None
    gc.collect()
    end_new_children(children_before)
    release_cuda()


def release_cuda() -> None:
    """``torch.cuda.empty_cache()`` and ``reset_peak_memory_stats()`` where CUDA was used in
    this process (a CPU-only run never initialises CUDA for it)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def execute_run(
    scenario: Scenario,
    key: RunKey,
    *,
    work_dir: Path,
    device: str | None = None,
    observers: tuple[Any, ...] = (),
    decide: Any = None,
) -> dict[str, Any]:
    """Train one (variant, seed) in this process and return its record (schema: README).

    ``decide``: a :class:`harness.decisions.GroupContext`: stop the run at the end of the
    epoch where its group's verdict is decided (status ``decided``); None: train to the end."""
    import torch

    from harness.loop import build_state, resolve_device, train
    from harness.pluginmanager import PluginError, build_run_manager, discover_plugins
    from harness.processes import child_pids

    variant = scenario.variants[key.variant]
    monitor = None
    if decide is not None:  # an observer like the progress bars: outside the trace, it only requests a stop
        from harness.decisions import DecisionMonitor

        monitor = DecisionMonitor(variant.expectations, torch_version(), decide)
        observers = (*observers, monitor)
    cfg = variant.train
    if device:
        cfg = cfg.model_copy(update={"device": device})
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run_dir = Path(work_dir) / "runs" / key.slug
    record = base_record(scenario, key)
    record["train"] = cfg.model_dump()
    started = time.perf_counter()
    state = None
    trace = None
    children = child_pids()  # what runs before this run; whatever it starts ends with it
    try:
        pm, trace = build_run_manager(discover_plugins(scenario.plugin_modules), variant.plugins, observers=observers)
        state = build_state(_workload(scenario), cfg, key.seed, resolve_device(cfg.device), run_dir)
        record["status"] = train(state, pm.hook)
    except PluginError as exc:
        record["error"] = {
            "message": str(exc),
            "type": type(exc.original).__name__,
            "plugin": exc.plugin,
            "hook": exc.hook,
            "traceback": "".join(traceback.format_exception(exc.original)),
        }
    except Exception as exc:  # a workload or core failure: recorded, the suite goes on
        record["error"] = {
            "message": f"{type(exc).__name__}: {exc}",
            "type": type(exc).__name__,
            "traceback": traceback.format_exc(),
        }
    finally:  # however the run ended, Ctrl-C (KeyboardInterrupt) included
        release_run(state, children)
    record["seconds"] = round(time.perf_counter() - started, 3)
    if trace is not None:
        record["trace"] = trace.as_dict()
    if state is not None:
        record.update(
            history=state.history,
            findings=[f.to_dict() for f in state.findings],
            outcomes=dict(state.outcomes),
            lr_per_step=state.lr_per_step,
            steps=state.step,
        )
        if state.stop_reason:
            record["stop_reason"] = state.stop_reason
        if state.diverged_at_step is not None:
            record["diverged_at_step"] = state.diverged_at_step
    record["expectations"] = evaluate_all(variant.expectations, record, torch_version())
    if record["status"] == "diverged" and not expects_divergence(variant.expectations, torch_version()):
        # a divergence fails the run unless the scenario expects it (`status == diverged`, or
        # `status == diverged or final.f1 <= 0.05`)
        record["expectations"].append(
            {"name": "status != diverged", "passed": False, "observed": "diverged", "implicit": True}
        )
    return monitor.finish(record) if monitor is not None else record


def skipped_record(scenario: Scenario, key: RunKey, reason: str) -> dict[str, Any]:
    """The record of a run left out because its group's verdict was already decided
    (:class:`harness.decisions.RunPlan`): status ``skipped``, every line open; never written
    to the results directory (it is no result)."""
    from harness.decisions import decide_run, decision_entries

    record = base_record(scenario, key)
    record.update(status="skipped", skipped={"reason": reason})
    expectations = scenario.variants[key.variant].expectations
    record["expectations"] = decision_entries(decide_run(expectations, record, torch_version=torch_version()), expectations)
    return record


def run_passed(record: dict[str, Any]) -> bool:
    """A run passes when it did not fail and every applicable expectation holds."""
    from harness.verdicts import run_ok

    return run_ok(record)


def run_suite(
    scenario: Scenario,
    keys: list[RunKey],
    *,
    results_dir: Path,
    jobs: int | None = 1,
    timeout: float | None = None,
    device: str | None = None,
    resume: bool = False,
    progress: Callable[[RunKey, str, Any], None] = lambda key, event, value: None,
    executor: str = "local",
    address: str | None = None,
    start_method: str | None = None,
    decide: bool = False,
    rule: Any = None,
) -> list[dict[str, Any]]:
    """Run every key, ``jobs`` at once; records in ``keys`` order.

    ``decide``: decide early (:mod:`harness.decisions`): a run stops at the end of the epoch
    where its variant's verdict is decided (status ``decided``), a variant's remaining seeds
    are skipped once its verdict is (status ``skipped``, never written), and the first seed
    of every variant starts before any second seed. ``rule``: the verdict of a variant is
    this :class:`~harness.expectations.PassRate` of runs passing every line (an ablation
    arm's ``--pass-rate``); None: each line at its own pass rate.

    ``executor="local"``: each run in a worker process on this machine (``jobs`` None: one
    per core); ``executor="ray"``: each run as a Ray task on the cluster at ``address``
    (None: ``$RAY_ADDRESS`` or a local Ray instance; ``jobs`` None: no cap).
    ``start_method`` (local only): ``fork``, ``spawn`` or ``forkserver`` for the workers
    (default: ``$HARNESS_START_METHOD``, else fork where the platform has it).
    Both write every record to ``results_dir`` as it finishes and give the same records.
    Before any run, :func:`harness.environment.check_environment` (once per process) raises
    ``EnvironmentClash`` when the installed versions contradict harness's requirements.
    """
    from harness.environment import check_environment

    check_environment()
    failed = unwritable_results(scenario, keys, Path(results_dir))
    if failed is not None:
        for key, record in zip(keys, failed):
            progress(key, "done", record)
        return failed
    plan = suite_plan(scenario, keys, Path(results_dir), resume=resume, decide=decide, rule=rule)
    common: dict[str, Any] = {"timeout": timeout, "device": device, "resume": resume, "progress": progress, "plan": plan}
    if executor == "ray":
        from harness.ray_executor import execute_ray

        runs = execute_ray(scenario, keys, results_dir=results_dir, address=address, jobs=jobs, **common)
    elif executor == "local":
        from harness.executor import execute_local

        runs = execute_local(
            scenario, keys, results_dir=results_dir, jobs=jobs or os.cpu_count() or 1, start_method=start_method, **common
        )
    else:
        raise ValueError(f"unknown executor {executor!r}: local or ray")
    done = dict(runs)
    return [done[key] for key in keys]


def suite_plan(
    scenario: Scenario, keys: list[RunKey], results_dir: Path, *, resume: bool = False, decide: bool = False, rule: Any = None
) -> Any:
    """The :class:`harness.decisions.RunPlan` of a suite: which run starts next, which are reused
    (``resume``: a written result with this configuration's fingerprint) or skipped (``decide``)."""
    from harness.decisions import RunPlan

    version = torch_version() if decide else ""
    return RunPlan(
        keys,
        decide=decide,
        rule=rule,
        lookup=(lambda key: reusable_result(results_dir, scenario, key)) if resume else None,
        divergence_open={
            name: not expects_divergence(variant.expectations, version) for name, variant in scenario.variants.items()
        } if decide else None,
        skipped_record=lambda key, reason: skipped_record(scenario, key, reason),
    )


def suite_report(scenario: Scenario, records: list[dict[str, Any]]) -> dict[str, Any]:
    """The stable JSON report: versions, scenario, every run, per-variant seed statistics
    and verdicts (:mod:`harness.verdicts`), and the overall verdict."""
    from harness import __version__
    from harness.verdicts import suite_passed, summarize_variants

    variants = summarize_variants(records, scenario.key_metrics)
    for name, summary in variants.items():
        if name in scenario.variants:
            summary["description"] = scenario.variants[name].description
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "torch_version": torch_version(),
        "scenario": {
            "name": scenario.name,
            "path": str(scenario.path),
            "workload": scenario.workload,
            "workload_params": scenario.workload_params.model_dump(),
            "metrics": list(scenario.metrics),
            "key_metrics": list(scenario.key_metrics),
        },
        "seeds": sorted({r["seed"] for r in records}),
        "runs": records,
        "variants": variants,
        "passed": suite_passed(variants),
    }


def default_results_dir(scenario: Scenario) -> Path:
    return Path(".harness") / scenario.name
