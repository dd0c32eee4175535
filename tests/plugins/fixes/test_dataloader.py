"""The `dataloader` fix: the platform policy, exact seeding with workers, the spawn crash it
replays, and the clean shutdown after every kind of ending (fork and spawn workers)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.core.processes import child_pids, run_children
from harness.core.state import LoaderOptions
from harness.plugins.fixes.dataloader import (
    AUTO_WORKERS,
    Params,
    auto_num_workers,
    auto_pin_memory,
    default_start_method,
    resolve_options,
)
from harness.testing import train_tiny

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def wine() -> Any:
    """A small tabular workload with dropout (so the global RNG stream must match too)."""
    from harness.workloads.tabular import Params as TabularParams
    from harness.workloads.tabular import TabularWorkload

    workload = TabularWorkload(TabularParams(data="sklearn:wine", hidden_sizes=[16], dropout=0.2))
    workload.prepare()
    return workload


# ------------------------------------------------------------------ the platform policy


@pytest.mark.parametrize(
    ("platform", "python", "method"),
    [
        ("win32", (3, 11), "spawn"),
        ("darwin", (3, 11), "spawn"),
        ("linux", (3, 11), "fork"),
        ("linux", (3, 14), "forkserver"),
    ],
)
def test_default_start_method_per_platform(platform: str, python: tuple[int, int], method: str) -> None:
    assert default_start_method(platform, python) == method


@pytest.mark.parametrize(
    ("platform", "device", "workers", "pin"),
    [
        ("win32", "cuda", 0, True),  # Windows spawns: no workers, but pin for the GPU copies
        ("win32", "cpu", 0, False),
        ("darwin", "cpu", 0, False),
        ("linux", "cuda", AUTO_WORKERS, True),
        ("linux", "cpu", AUTO_WORKERS, False),
    ],
)
def test_auto_policy_per_platform(platform: str, device: str, workers: int, pin: bool) -> None:
    """`auto` for both, the platform injected: no workers where they spawn, pinning only on CUDA."""
    options = resolve_options(Params(), platform=platform, start_method=None, device_type=device, cpu_count=8)
    assert (options.num_workers, options.pin_memory) == (workers, pin)


def test_auto_policy_follows_the_start_method_not_only_the_platform() -> None:
    on_linux = {"platform": "linux", "device_type": "cpu", "cpu_count": 8}
    assert resolve_options(Params(multiprocessing_context="spawn"), start_method="fork", **on_linux).num_workers == 0
    assert resolve_options(Params(), start_method="forkserver", **on_linux).num_workers == 0
    assert resolve_options(Params(), start_method="fork", **on_linux).num_workers == AUTO_WORKERS
    assert auto_num_workers("fork", 2) == 1 and auto_num_workers("fork", 1) == 0 and auto_num_workers("fork", None) == 0
    assert auto_pin_memory("cuda") and not auto_pin_memory("cpu") and not auto_pin_memory("mps")


def test_explicit_settings_win_and_worker_options_drop_with_no_workers() -> None:
    params = Params(num_workers="auto", persistent_workers=True, prefetch_factor=4, multiprocessing_context="spawn")
    options = resolve_options(params, platform="win32", start_method=None, device_type="cpu", cpu_count=8)
    assert options == LoaderOptions(num_workers=0, pin_memory=False)  # auto -> 0: nothing worker-only is left
    params = Params(
        num_workers=3, pin_memory=True, persistent_workers=True, prefetch_factor=4, multiprocessing_context="spawn"
    )
    options = resolve_options(params, platform="win32", start_method=None, device_type="cpu", cpu_count=8)
    assert options == LoaderOptions(3, True, True, 4, "spawn")
    assert options.dataloader_kwargs() == {
        "num_workers": 3,
        "pin_memory": True,
        "persistent_workers": True,
        "prefetch_factor": 4,
        "multiprocessing_context": "spawn",
    }
    assert LoaderOptions().dataloader_kwargs() == {"num_workers": 0, "pin_memory": False}


def test_worker_options_without_workers_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="persistent_workers only apply with num_workers > 0"):
        Params(num_workers=0, persistent_workers=True)
    with pytest.raises(ValidationError, match="multiprocessing_context"):
        Params(num_workers=0, multiprocessing_context="spawn")


# ------------------------------------------------------------------ the loop builds loaders from the options


def test_the_loop_rebuilds_the_loaders_from_the_plugins_options(wine: Any) -> None:
    run = train_tiny(
        {"dataloader": {"num_workers": 2, "multiprocessing_context": "fork"}}, workload=wine, epochs=1, batch_size=16
    )
    assert run.status == "ok" and run.acted("dataloader", "on_setup")
    loader = run.state.train_loader
    assert loader.num_workers == 2 and loader.multiprocessing_context.get_start_method() == "fork"
    assert run.state.val_loader.num_workers == 2
    assert run.state.hparams.batches_per_epoch == len(loader) == -(-len(loader.dataset) // 16)
    assert run.state.outcomes["loader_workers"] == 2 and run.state.outcomes["loader_start_method"] == "fork"
    plain = train_tiny({}, workload=wine, epochs=1, batch_size=16)
    assert plain.state.train_loader.num_workers == 0 and plain.state.loader_options == LoaderOptions()


def _same_training(a: Any, b: Any) -> None:
    assert a.status == b.status == "ok"
    assert a.history == b.history
    pa, pb = dict(a.state.model.named_parameters()), dict(b.state.model.named_parameters())
    assert all(torch.equal(pa[name], pb[name]) for name in pa)


@pytest.mark.parametrize("persistent", [False, True])
def test_two_fork_workers_give_the_history_of_none(wine: Any, persistent: bool) -> None:
    none = train_tiny({"dataloader": {"num_workers": 0}}, workload=wine, epochs=3, batch_size=16)
    two = train_tiny(
        {"dataloader": {"num_workers": 2, "multiprocessing_context": "fork", "persistent_workers": persistent}},
        workload=wine,
        epochs=3,
        batch_size=16,
    )
    _same_training(none, two)


@pytest.mark.parametrize("persistent", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_two_spawn_workers_give_the_history_of_none(wine: Any, persistent: bool) -> None:
    """Persistent workers start once; without, every epoch spawns new ones (seconds each)."""
    none = train_tiny({"dataloader": {"num_workers": 0}}, workload=wine, epochs=2, batch_size=16)
    two = train_tiny(
        {"dataloader": {"num_workers": 2, "multiprocessing_context": "spawn", "persistent_workers": persistent}},
        workload=wine,
        epochs=2,
        batch_size=16,
    )
    _same_training(none, two)


# ------------------------------------------------------------------ the Windows crash, replayed


def test_an_inline_collate_works_with_fork_workers(wine: Any) -> None:
    settings = {"num_workers": 2, "multiprocessing_context": "fork", "collate": "local_function"}
    _same_training(
        train_tiny({}, workload=wine, epochs=1, batch_size=16),
        train_tiny({"dataloader": settings}, workload=wine, epochs=1, batch_size=16),
    )


def test_an_inline_collate_cannot_be_pickled_for_spawn_workers(wine: Any) -> None:
    """What Windows does to the same script: the workers receive the collate by pickling."""
    import pickle

    settings = {"num_workers": 2, "multiprocessing_context": "spawn", "collate": "local_function"}
    before = child_pids()
    with (
        pytest.warns(UserWarning, match="pickle"),
        pytest.raises((AttributeError, pickle.PicklingError), match="local object"),
    ):
        train_tiny({"dataloader": settings}, workload=wine, epochs=1, batch_size=16)
    assert run_children(exclude=before) == []  # no worker was ever started


# ------------------------------------------------------------------ clean shutdown after every ending


ENDING_MODULE = '''
"""Pathology: none (a test double). Signal: none. Fix: none; it ends the run as ``how`` says."""
import json
import os
import signal
import time

from pydantic import BaseModel, ConfigDict

from harness.core.plugin import Plugin, hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    how: str = "ok"
    at_step: int = 2
    pids_file: str = ""


class Ending(Plugin):
    name = "ending"
    Params = Params

    @hookimpl
    def on_step(self, state):
        if state.step != self.params.at_step:
            return
        from harness.core.processes import run_children

        with open(self.params.pids_file, "w") as out:  # the workers alive mid-epoch
            json.dump([p.pid for p in run_children()], out)
        how = self.params.how
        if how == "stop":
            state.request_stop("ending")
        elif how == "raise":
            raise RuntimeError("a plugin failed mid-epoch")
        elif how == "interrupt":  # Ctrl-C, delivered as the terminal would
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        elif how == "hang":
            time.sleep(600)

    @hookimpl
    def extra_losses(self, state):
        if self.params.how == "diverge" and state.step >= self.params.at_step:
            import torch

            return {"nan": torch.tensor(float("nan"))}
'''


def _scenario(tmp_path: Path, monkeypatch: Any, method: str, how: str, persistent: bool) -> Any:
    from harness.scenario import load_scenario

    (tmp_path / "harness_test_ending.py").write_text(ENDING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = {"num_workers": 2, "multiprocessing_context": method, "persistent_workers": persistent}
    ending = {"how": how, "pids_file": str(tmp_path / "pids.json")}
    text = textwrap.dedent(f"""\
        name: endings
        workload: {{name: tabular, params: {{data: "sklearn:wine", hidden_sizes: [8]}}}}
        train: {{epochs: 2, batch_size: 16, lr: 1.0e-2, device: cpu, threads: 1}}
        plugin_modules: ["harness_test_ending:Ending"]
        variants:
          run:
            plugins:
              dataloader: {json.dumps(loader)}
              ending: {json.dumps(ending)}
              checkpoint: true
        """)
    path = tmp_path / "endings.yaml"
    path.write_text(text)
    return load_scenario(path)


def _gone(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _assert_clean(tmp_path: Path, before: frozenset[int]) -> None:
    import psutil

    workers = json.loads((tmp_path / "pids.json").read_text())
    assert len(workers) >= 2, "the run had no live workers when it ended: the test proves nothing"
    assert run_children(exclude=before) == []  # the run's child processes, counted after it ended
    assert all(_gone(pid) for pid in workers)
    held = [f.path for f in psutil.Process().open_files() if f.path.startswith(str(tmp_path))]
    assert held == [], f"files of the run still open: {held}"


ENDINGS = [("ok", "ok"), ("stop", "stopped"), ("diverge", "diverged"), ("raise", "error")]


def _params(slow_method: str) -> list[Any]:
    out = []
    for method in ("fork", "spawn"):
        for how, status in ENDINGS:
            marks = [pytest.mark.slow] if method == slow_method else []
            out.append(pytest.param(method, how, status, marks=marks, id=f"{method}-{how}"))
    return out


@pytest.mark.parametrize(("method", "how", "status"), _params("spawn"))
def test_no_worker_is_left_after_any_ending(
    tmp_path: Path, monkeypatch: Any, method: str, how: str, status: str
) -> None:
    """Fork workers of a plain iterator (held by the loop, or by the exception's frames) and
    spawn workers that persist across epochs (held by the loader itself)."""
    from harness.execution.records import RunKey
    from harness.execution.run_one import execute_run

    scenario = _scenario(tmp_path, monkeypatch, method, how, persistent=method == "spawn")
    before = child_pids()
    record = execute_run(scenario, RunKey("run", 0), work_dir=tmp_path / "work")
    assert record["status"] == status, record.get("error")
    if how == "raise":
        assert record["error"]["type"] == "RuntimeError" and record["error"]["plugin"] == "ending"
    if status == "ok":
        assert any((tmp_path / "work" / "runs").rglob("*")), "the run wrote no checkpoint files"
    _assert_clean(tmp_path, before)


@pytest.mark.parametrize("method", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_no_worker_is_left_after_ctrl_c(tmp_path: Path, monkeypatch: Any, method: str) -> None:
    import signal

    from harness.execution.records import RunKey
    from harness.execution.run_one import execute_run

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt in this process")
    scenario = _scenario(tmp_path, monkeypatch, method, "interrupt", persistent=method == "spawn")
    before = child_pids()
    with pytest.raises(KeyboardInterrupt):
        execute_run(scenario, RunKey("run", 0), work_dir=tmp_path / "work")
    _assert_clean(tmp_path, before)


@pytest.mark.parametrize("method", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_no_worker_is_left_after_a_timeout(tmp_path: Path, monkeypatch: Any, method: str) -> None:
    """The executor SIGKILLs a run past its timeout: its workers die with it (PR_SET_PDEATHSIG,
    armed by the loaders' worker_init_fn), not seconds later by PyTorch's watchdog."""
    import sys
    import time

    from harness.execution.executor import execute_local
    from harness.execution.records import RunKey

    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's; elsewhere PyTorch's watchdog ends orphans")
    scenario = _scenario(tmp_path, monkeypatch, method, "hang", persistent=False)
    before = child_pids()
    ((_, record),) = list(
        execute_local(scenario, [RunKey("run", 0)], results_dir=tmp_path / "res", timeout=4 if method == "fork" else 8)
    )
    assert record["status"] == "timeout"
    workers = json.loads((tmp_path / "pids.json").read_text())
    assert len(workers) >= 2
    deadline = time.monotonic() + 2.0  # the kernel's signal is immediate; allow for reaping
    while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in workers)
    assert run_children(exclude=before) == []


# ------------------------------------------------------------------ CUDA is released between runs


def test_release_cuda_empties_the_cache_and_resets_peaks_only_where_cuda_was_used(monkeypatch: Any) -> None:
    from harness.execution.run_one import release_cuda

    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append("reset_peak_memory_stats")
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    release_cuda()
    assert calls == []  # a CPU run never initialises CUDA for its clean-up
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    release_cuda()
    assert calls == ["empty_cache", "reset_peak_memory_stats"]


# ------------------------------------------------------------------ the shipped scenario


@pytest.mark.slow
def test_dataloader_windows_scenario(tmp_path: Path) -> None:
    """Every variant's expectations hold; the spawn workers cost measured memory the fixed
    variant does not pay; every variant that trains has the same history."""
    from harness.execution.runner import plan_runs, run_suite
    from harness.scenario import load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "dataloader_windows.yaml")
    records = {r["variant"]: r for r in run_suite(scenario, plan_runs(scenario), results_dir=tmp_path, jobs=1)}
    for name, record in records.items():
        assert all(e["passed"] for e in record["expectations"]), (name, record["expectations"])
    broken = records["broken"]
    assert broken["status"] == "error" and "Can't pickle local object" in broken["error"]["message"]
    fixed, spawn = records["fixed"]["outcomes"], records["spawn_workers"]["outcomes"]
    assert spawn["peak_rss_mb"] > fixed["peak_rss_mb"] + 200
    if "peak_pss_mb" in fixed:
        assert spawn["peak_pss_mb"] > fixed["peak_pss_mb"] + 200
    assert records["fixed"]["history"] == records["spawn_workers"]["history"] == records["linux_fork"]["history"]
