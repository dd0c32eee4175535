"""Scale-out that survives a lost node, on a two-node Ray cluster on this machine.

Ray's own ``ray.cluster_utils.Cluster`` starts a head node and a worker node (one CPU
each, a small object store, no dashboard) as separate raylets; ``remove_node`` kills one
the way a preempted machine goes. The runs carry the ``node_tally`` test plugin
(``tests/cluster/harness_node_tally.py``), which appends ``start``/``end`` lines with the
node id to a file: the count of executions, independent of harness's own records.

Skipped only when ray is not installed (the ``test`` extra installs it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from harness.cli import main
from harness.execution.records import run_fingerprint
from harness.execution.results import result_path
from harness.execution.runner import plan_runs, run_suite
from harness.scenario import load_scenario
from harness.testing import TINY_DEVIGN

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")

PLUGIN_DIR = Path(__file__).resolve().parent / "cluster"
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster() -> Any:
    """A head and a worker node (1 CPU each); this process is the driver, connected to the head."""
    from ray.cluster_utils import Cluster

    patch = pytest.MonkeyPatch()
    # the nodes' raylets, and so their workers, inherit this environment
    patch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGIN_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]))
    patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    patch.syspath_prepend(str(PLUGIN_DIR))  # the driver validates the scenario's plugin_modules
    started = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    try:
        started.add_node(**NODE)
        started.wait_for_nodes()
        if ray.is_initialized():  # left over by an earlier test: this module's driver is the cluster's
            ray.shutdown()
        ray.init(address=started.address, logging_level="WARNING", log_to_driver=False)
        yield started
    finally:
        ray.shutdown()
        started.shutdown()
        patch.undo()


def worker_node(cluster: Any) -> Any:
    """The cluster's worker node (not the head), started afresh when an earlier test removed it."""
    others = list(cluster.worker_nodes)
    if not others:
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        others = list(cluster.worker_nodes)
    return others[0]


def write_scenario(directory: Path, name: str, seeds: list[int], pace: float) -> tuple[Path, Path]:
    tally = directory / f"{name}.tally"
    spec = {
        "name": name,
        "workload": {"name": "devign", "params": dict(TINY_DEVIGN)},
        "train": {"epochs": 2, "batch_size": 32, "lr": 1.0e-3, "device": "cpu", "threads": 1},
        "plugin_modules": ["harness_node_tally:NodeTally"],
        "seeds": seeds,
        "variants": {
            "plain": {"plugins": {"node_tally": {"path": str(tally), "pace": pace}}, "expect": ["status == ok"]}
        },
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path, tally


def tally_lines(tally: Path) -> list[tuple[str, str, str]]:
    if not tally.exists():
        return []
    return [tuple(line.split()) for line in tally.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def remove_when_running_on(cluster: Any, node: Any, tally: Path, limit: float = 180.0) -> str:
    """Kill ``node`` (no graceful shutdown) as soon as a run is training on it; returns that run."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        lines = tally_lines(tally)
        ended = {(run, where) for event, run, where in lines if event == "end"}
        running = [
            run
            for event, run, where in lines
            if event == "start" and where == node.node_id and (run, where) not in ended
        ]
        if running:
            cluster.remove_node(node, allow_graceful=False)
            return running[0]
        time.sleep(0.05)
    raise AssertionError(f"no run started on the worker node within {limit:g} s; tally: {lines}")


def in_thread(target: Any, *args: Any, **kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["value"] = target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


def joined(thread: threading.Thread, out: dict[str, Any], limit: float = 300.0) -> Any:
    thread.join(limit)
    assert not thread.is_alive(), "the suite did not finish"
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_runs_spread_over_both_nodes_a_lost_nodes_run_is_an_error_naming_it_and_resume_completes(
    cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head_id = cluster.head_node.node_id
    worker = worker_node(cluster)
    path, tally = write_scenario(tmp_path, "lost_node", [0, 1, 2, 3], pace=1.5)
    scenario = load_scenario(path)
    results = tmp_path / "results"
    keys = plan_runs(scenario)

    # 1. two runs at once on two 1-CPU nodes: one on each
    first = run_suite(scenario, keys[:2], results_dir=results, executor="ray", address=cluster.address)
    assert [r["status"] for r in first] == ["ok", "ok"], [r.get("error") for r in first]
    assert {r["node"]["id"] for r in first} == {head_id, worker.node_id}
    for record in first:
        assert record["node"]["attempts"] == 1 and record["node"]["ip"] and record["node"]["host"]
        assert "lost" not in record["node"]

    # 2. the whole suite with --resume and no retries; the worker node dies under its run
    monkeypatch.setenv("HARNESS_RAY_RETRIES", "0")
    thread, out = in_thread(
        run_suite, scenario, keys, results_dir=results, executor="ray", address=cluster.address, resume=True
    )
    killed = remove_when_running_on(cluster, worker, tally)
    second = {f"{r['variant']}-seed{r['seed']}": r for r in joined(thread, out)}
    assert killed in {"plain-seed2", "plain-seed3"}
    lost = second[killed]
    assert lost["status"] == "error" and lost["error"]["transient"] is True
    assert worker.node_id in lost["error"]["message"] and lost["error"]["node"]["id"] == worker.node_id
    assert lost["node"]["id"] == worker.node_id
    for slug, record in second.items():
        if slug != killed:
            assert record["status"] == "ok", record.get("error")
    before = {key.slug: result_path(results, key).read_bytes() for key in keys}
    assert json.loads(before[killed])["status"] == "error"  # recorded, not lost

    # 3. --resume (default retries) reruns only that run, on the node that is left
    monkeypatch.delenv("HARNESS_RAY_RETRIES")
    report_path = tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(path),
            "--executor",
            "ray",
            "--address",
            cluster.address,
            "--resume",
            "--results-dir",
            str(results),
            "--json",
            str(report_path),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert [(r["variant"], r["seed"], r["status"]) for r in report["runs"]] == [("plain", s, "ok") for s in range(4)]
    for key, record in zip(keys, report["runs"], strict=True):
        assert record["fingerprint"] == run_fingerprint(scenario, key)
        if key.slug != killed:  # reused: the file is byte-for-byte the one written before
            assert result_path(results, key).read_bytes() == before[key.slug]
    rerun = next(r for r in report["runs"] if f"plain-seed{r['seed']}" == killed)
    assert rerun["node"]["id"] == head_id

    # the executions, as counted by the runs themselves: every run finished exactly once;
    # only the killed one started twice (on the lost node, then on the head)
    lines = tally_lines(tally)
    ends = Counter(run for event, run, _ in lines if event == "end")
    starts = Counter(run for event, run, _ in lines if event == "start")
    assert ends == Counter({key.slug: 1 for key in keys})
    assert starts == Counter({key.slug: 2 if key.slug == killed else 1 for key in keys})
    assert {where for event, run, where in lines if event == "end"} == {head_id, worker.node_id}


def test_a_run_on_a_lost_node_is_retried_on_another(cluster: Any, tmp_path: Path) -> None:
    head_id = cluster.head_node.node_id
    worker = worker_node(cluster)
    path, tally = write_scenario(tmp_path, "retried", [0, 1], pace=1.5)
    scenario = load_scenario(path)
    results = tmp_path / "results"
    thread, out = in_thread(
        run_suite, scenario, plan_runs(scenario), results_dir=results, executor="ray", address=cluster.address
    )
    killed = remove_when_running_on(cluster, worker, tally)
    records = {f"plain-seed{r['seed']}": r for r in joined(thread, out)}
    assert all(r["status"] == "ok" for r in records.values()), [r.get("error") for r in records.values()]
    retried = records[killed]["node"]
    assert retried["id"] == head_id and retried["attempts"] == 2, json.dumps([retried, tally_lines(tally), head_id])
    assert [n["id"] for n in retried["lost"]] == [worker.node_id]
    other = next(r for slug, r in records.items() if slug != killed)["node"]
    assert other["id"] == head_id and other["attempts"] == 1
    lines = tally_lines(tally)
    assert Counter(run for event, run, _ in lines if event == "end") == Counter({"plain-seed0": 1, "plain-seed1": 1})
    assert Counter(run for event, run, _ in lines if event == "start")[killed] == 2
    # the restarted run trained from scratch: one history of its 2 epochs, written once
    written = json.loads(result_path(results, plan_runs(scenario)[int(killed[-1])]).read_text())
    assert written["node"] == retried and [e["epoch"] for e in written["history"]] == [1, 2]
