"""Executing one (variant, seed) run in this process: train it and return its record.

A run never raises: a plugin exception ends it with status ``error`` (naming the plugin
and hook, the exception's type and the traceback kept in the record), a non-finite loss
with ``diverged``; only Ctrl-C (``KeyboardInterrupt``) goes on up. Either way the run is
shut down cleanly first (:func:`release_run`: no DataLoader worker left, CUDA cache emptied).
Every executor (local worker process, Ray task, pytest item) trains a run through
:func:`execute_run`, so their records are the same.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.execution.records import RunKey, RunRecord, base_record, judge, torch_version
from harness.execution.run_plan import DecisionMonitor
from harness.scenario.expectations import expects_divergence

if TYPE_CHECKING:
    from harness.scenario import Scenario, TrainConfig, Variant

_WORKLOADS: dict[tuple[str, str], Any] = {}


def cached_workload(scenario: Scenario) -> Any:
    """One workload instance per process and configuration, so data loads once."""
    from harness.workloads import workload_class

    key = (scenario.workload, scenario.workload_params.model_dump_json())
    if key not in _WORKLOADS:
        _WORKLOADS[key] = workload_class(scenario.workload)(scenario.workload_params)
    return _WORKLOADS[key]


def execute_run(
    scenario: Scenario,
    key: RunKey,
    *,
    work_dir: Path,
    device: str | None = None,
    observers: tuple[Any, ...] = (),
    decide: Any = None,
) -> RunRecord:
    """Train one (variant, seed) in this process and return its record (schema: docs/reports.md).

    ``decide``: a :class:`harness.judging.decisions.GroupContext`: stop the run at the end of the
    epoch where its group's verdict is decided (status ``decided``); None: train to the end.
    A script workload's variant runs its program instead (:mod:`harness.execution.script_run`;
    ``device``, ``observers`` and ``decide`` do not apply to it)."""
    variant = scenario.variants[key.variant]
    if variant.script is not None:
        from harness.execution.script_run import execute_script_run

        return execute_script_run(scenario, key, work_dir=work_dir)
    monitor = None
    if decide is not None:  # an observer like the progress bars: outside the trace, it only requests a stop
        monitor = DecisionMonitor(variant.expectations, torch_version(), decide)
        observers = (*observers, monitor)
    cfg = _train_config(variant, device)
    record = base_record(scenario, key)
    record["train"] = cfg.model_dump()
    started = time.perf_counter()
    state, trace = _train(scenario, key, cfg, observers, Path(work_dir) / "runs" / key.slug, record)
    record["seconds"] = round(time.perf_counter() - started, 3)
    _record_results(record, state, trace)
    _judge_run(scenario, key, variant, record)
    return monitor.finish(record) if monitor is not None else record


def check_workload(scenario: Scenario) -> None:
    """The contract of the scenario's workload, on CPU before any run: raises
    :class:`harness.core.contract.ContractError` (what the CLI reports as bad input, exit 2).

    Once per batch size its variants train with (a BatchNorm layer minds the last batch);
    any other failure is left for the runs to record.
    """
    if any(variant.script is not None for variant in scenario.variants.values()):
        return  # a script: its files were checked when the scenario loaded, its program checks itself
    import torch

    from harness.core.contract import ContractError, check_contract
    from harness.core.loop import seed_everything

    try:
        workload = cached_workload(scenario)
        train, val = workload.datasets()
        seed_everything(0)
        model = workload.build_model()
    except ContractError:
        raise
    except Exception:  # noqa: BLE001 - not the contract's to judge: each run records it
        return
    for batch_size in sorted({variant.train.batch_size for variant in scenario.variants.values()}):
        check_contract(workload, train, val, model, batch_size, torch.device("cpu"))


def _train_config(variant: Variant, device: str | None) -> TrainConfig:
    """The variant's train config with ``--device`` applied; sets torch's threads when it asks."""
    import torch

    cfg = variant.train
    if device:
        cfg = cfg.model_copy(update={"device": device})
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return cfg


def _train(
    scenario: Scenario, key: RunKey, cfg: TrainConfig, observers: tuple[Any, ...], run_dir: Path, record: RunRecord
) -> tuple[Any, Any]:
    """Build the run's plugins and state and train; the status, or the error, goes into
    ``record``. Returns ``(state, trace)`` as far as they were built."""
    from harness.core.loop import build_state, resolve_device, train
    from harness.core.pluginmanager import PluginError, build_run_manager
    from harness.core.processes import child_pids

    variant = scenario.variants[key.variant]
    state = None
    trace = None
    children = child_pids()  # what runs before this run; whatever it starts ends with it
    try:
        pm, trace = build_run_manager(scenario.catalogue, variant.plugins, observers=observers)
        state = build_state(cached_workload(scenario), cfg, key.seed, resolve_device(cfg.device), run_dir)
        record["status"] = train(state, pm.hook)
    except PluginError as exc:
        record["error"] = {
            "message": str(exc),
            "type": type(exc.original).__name__,
            "plugin": exc.plugin,
            "hook": exc.hook,
            "traceback": "".join(traceback.format_exception(exc.original)),
        }
    except Exception as exc:  # noqa: BLE001 - a workload or core failure: recorded, the suite goes on
        record["error"] = {
            "message": f"{type(exc).__name__}: {exc}",
            "type": type(exc).__name__,
            "traceback": traceback.format_exc(),
        }
    finally:  # however the run ended, Ctrl-C (KeyboardInterrupt) included
        release_run(state, children)
    return state, trace


def _record_results(record: RunRecord, state: Any, trace: Any) -> None:
    """What the run left in its trace and state: history, findings, outcomes, how it stopped."""
    from harness.core.run_record import state_results

    record.update(state_results(state, trace))  # type: ignore[typeddict-item]  # the same fields, built in core


def _judge_run(scenario: Scenario, key: RunKey, variant: Variant, record: RunRecord) -> None:
    judge(scenario, key, record)
    if record["status"] == "diverged" and not expects_divergence(variant.expectations, torch_version()):
        # a divergence fails the run unless the scenario expects it (`status == diverged`, or
        # `status == diverged or final.f1 <= 0.05`)
        record["expectations"].append(
            {"name": "status != diverged", "passed": False, "observed": "diverged", "implicit": True}
        )


def release_run(state: Any, children_before: frozenset[int] = frozenset()) -> None:
    """The clean shutdown of a run, however it ended (the incident's ``try/finally``).

    Stops the loaders' worker processes (:func:`harness.core.loop.shutdown_loaders`) and drops
    the loaders; collects garbage, so an epoch's iterator that only an exception's frames
    still held shuts its workers down too; ends any process the run started and left
    behind (:func:`harness.core.processes.end_new_children`; ``children_before``: the pids that
    were there before the run), which also closes every file those held; and on CUDA
    empties the allocator's cache and resets its peak statistics, so the next run in this
    process starts from a clean slate and measures its own peak.
    """
    import gc

    from harness.core.loop import shutdown_loaders
    from harness.core.processes import end_new_children

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
