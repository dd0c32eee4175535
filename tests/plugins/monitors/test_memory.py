"""The `memory` monitor: measured peak memory of the run's process tree, workers included."""

from __future__ import annotations

from typing import Any

import pytest

from harness.testing import bare_state, train_tiny


@pytest.fixture(scope="module")
def wine() -> Any:
    from harness.workloads.tabular import Params, TabularWorkload

    workload = TabularWorkload(Params(data="sklearn:wine", hidden_sizes=[8]))
    workload.prepare()
    return workload


def test_memory_is_an_opt_in_monitor(wine: Any) -> None:
    from harness.core.pluginmanager import discover_plugins

    info = discover_plugins()["memory"]
    assert info.kind == "monitor" and not info.cls.default_enabled()
    run = train_tiny({}, workload=wine, epochs=1)  # the default monitors only
    assert "peak_rss_mb" not in run.state.outcomes


def test_a_run_without_workers_measures_its_own_process(wine: Any) -> None:
    import psutil

    run = train_tiny({"memory": True}, workload=wine, epochs=1, batch_size=16)
    out = run.state.outcomes
    assert out["peak_workers"] == 0 and out["peak_worker_rss_mb"] == 0
    own = psutil.Process().memory_info().rss / 2**20
    assert 0.5 * own < out["peak_rss_mb"] <= 1.5 * own  # this process's resident memory, measured
    assert run.acted("memory", "on_step") and run.acted("memory", "on_epoch_end")


def test_workers_are_counted_with_their_memory(wine: Any) -> None:
    settings = {"num_workers": 2, "multiprocessing_context": "fork"}
    run = train_tiny({"memory": True, "dataloader": settings}, workload=wine, epochs=1, batch_size=16)
    out = run.state.outcomes
    assert out["peak_workers"] == 2  # sampled at the epoch's first step, while its workers load
    assert out["peak_worker_rss_mb"] > 10 and out["peak_rss_mb"] > out["peak_worker_rss_mb"]
    if "peak_pss_mb" in out:  # Linux: forked workers share most pages with the training process
        assert out["peak_pss_mb"] < out["peak_rss_mb"]


def test_over_budget_is_one_finding(wine: Any) -> None:
    run = train_tiny({"memory": {"budget_mb": 1, "interval_s": 0}}, workload=wine, epochs=2, batch_size=16)
    (finding,) = [f for f in run.findings if f["kind"] == "memory_over_budget"]
    assert finding["plugin"] == "memory" and 1 < finding["value"] <= run.state.outcomes["peak_rss_mb"]
    assert "over the budget of 1 MB" in finding["message"]


def test_children_from_before_the_run_are_not_the_runs(tmp_path: Any) -> None:
    """A process this one started before the run (another test's, a server) is not counted."""
    import subprocess
    import sys

    from harness.plugins.monitors.memory import Memory

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        monitor = Memory(Memory.Params())
        state = bare_state()
        monitor.on_setup(state)
        monitor.on_epoch_end(state)
        assert state.outcomes["peak_workers"] == 0
    finally:
        sleeper.kill()
        sleeper.wait()
