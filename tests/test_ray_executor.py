"""`harness run --executor ray`: each (variant, seed) a Ray task, same records as the local executor.

The end-to-end test starts a local Ray instance (2 CPUs, no dashboard) inside the
executor; it is skipped only when ray is not installed (`pip install 'training-harness[ray]'`,
which the `test` extra includes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.execution.ray_executor import RETRIES_ENV, retries_from_env, task_resources, wants_gpu
from harness.execution.ray_nodes import task_failure
from harness.execution.records import RunKey, base_record
from harness.execution.results import reusable_result, save_result
from harness.scenario import load_scenario

TINY = """\
name: tiny_ray
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 2, batch_size: 32, lr: 1.0e-3, device: cpu}
seeds: [0, 1]
variants:
  plain:
    expect:
      - status == ok
  clipped:
    plugins: {grad_clip: {max_norm: 0.01}, class_weights: true}
    expect:
      - status == ok
      - final.f1 >= 1.5
"""

#: what may differ between two executions of the same run (``node``: Ray's only)
VOLATILE = {"seconds", "node"}


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def run_cli(*args: str) -> tuple[int, str]:
    import traceback

    result = CliRunner().invoke(main, list(args))
    crashed = result.exc_info is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, result.output + ("".join(traceback.format_exception(*result.exc_info)) if crashed else "")


def stable(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in VOLATILE}


@pytest.mark.slow
def test_ray_executor_gives_the_local_executors_records(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import ray

    code_local, out_local = run_cli(
        "run",
        str(tiny),
        "-q",
        "-j",
        "2",
        "--json",
        str(tmp_path / "local.json"),
        "--results-dir",
        str(tmp_path / "local"),
    )
    code_ray, out_ray = run_cli(
        "run",
        str(tiny),
        "-q",
        "--executor",
        "ray",
        "--json",
        str(tmp_path / "ray.json"),
        "--results-dir",
        str(tmp_path / "ray"),
    )
    assert not ray.is_initialized()  # the local instance the executor started is shut down
    # the `clipped` variant's impossible expectation fails under both executors: exit 1
    assert (code_local, code_ray) == (1, 1), out_local + out_ray
    assert (tmp_path / "ray.json").exists(), out_ray  # written, else the traceback of what crashed
    local = json.loads((tmp_path / "local.json").read_text())
    remote = json.loads((tmp_path / "ray.json").read_text())
    assert [(r["variant"], r["seed"]) for r in remote["runs"]] == [
        ("plain", 0),
        ("plain", 1),
        ("clipped", 0),
        ("clipped", 1),
    ]
    for a, b in zip(local["runs"], remote["runs"], strict=False):
        assert a["status"] == "ok" and len(a["history"]) == 2 and a["steps"] == 6
        assert "node" not in a and b["node"]["attempts"] == 1 and b["node"]["id"]  # where Ray ran it
        assert stable(a) == stable(b)  # histories, findings, traces, LR per step: identical
    assert local["passed"] is False and remote["passed"] is False
    # streamed into the same results layout, one file per run
    for run in remote["runs"]:
        written = json.loads((tmp_path / "ray" / "results" / f"{run['variant']}-seed{run['seed']}.json").read_text())
        assert stable(written) == stable(run)


def test_a_cuda_run_asks_ray_for_a_gpu(tiny: Path) -> None:
    scenario = load_scenario(tiny)
    key = RunKey("plain", 0)
    assert task_resources(scenario, key, None, cluster_has_gpu=True) == {"num_cpus": 1, "num_gpus": 0}  # device: cpu
    assert task_resources(scenario, key, "cuda", cluster_has_gpu=False) == {"num_cpus": 1, "num_gpus": 1}
    assert task_resources(scenario, key, "auto", cluster_has_gpu=True)["num_gpus"] == 1
    assert task_resources(scenario, key, "auto", cluster_has_gpu=False)["num_gpus"] == 0
    assert wants_gpu("cuda", None, False) and not wants_gpu("cuda", "cpu", True)


def test_threads_set_the_tasks_cpus(tmp_path: Path) -> None:
    path = tmp_path / "threads.yaml"
    path.write_text(TINY.replace("device: cpu}", "device: cpu, threads: 2}"))
    assert task_resources(load_scenario(path), RunKey("plain", 0), None, False) == {"num_cpus": 2, "num_gpus": 0}


def test_address_without_ray_executor_is_bad_input(tiny: Path) -> None:
    code, out = run_cli("run", str(tiny), "--address", "auto")
    assert code == 2 and "--address needs --executor ray" in out


NODE_DIED = (
    "Task failed because the node it was running on is dead or unavailable. Node IP: 10.0.0.7, "
    "node ID: b0d1353361cfe40fe656235f2a6e9dec62f1ceeae600f30d8cf02ddd. This can happen if the node was preempted."
)


def test_a_lost_node_is_a_transient_error_naming_the_node() -> None:
    rx = pytest.importorskip("ray.exceptions")
    node = {"id": "8c1f00aa00bb00cc00dd", "ip": "10.0.0.3", "host": "worker-2"}
    error = task_failure(rx.NodeDiedError(NODE_DIED), node, attempts=3, retries=2)
    assert error["transient"] is True and error["node"] == node and error["type"] == "NodeDiedError"
    assert error["message"].startswith("lost node 8c1f00aa00bb00cc00dd (10.0.0.3, worker-2) under this run")
    assert "attempt 3 of 3" in error["message"] and "--resume" in error["message"]
    # no start event seen: the node is read from Ray's own message
    error = task_failure(rx.NodeDiedError(NODE_DIED), None, attempts=0, retries=0)
    assert error["node"] == {"id": "b0d1353361cfe40fe656235f2a6e9dec62f1ceeae600f30d8cf02ddd", "ip": "10.0.0.7"}
    assert "before it started" in error["message"]
    assert task_failure(rx.WorkerCrashedError(), node, 1, 0)["transient"] is True
    # a task that raised is the run's own failure: not transient, resume keeps it
    error = task_failure(ValueError("bad pickle"), node, 1, 2)
    assert "transient" not in error and error["message"] == (
        "Ray task failed on node 8c1f00aa00bb00cc00dd (10.0.0.3, worker-2): ValueError: bad pickle"
    )


def test_resume_reruns_a_transient_error_and_keeps_other_results(tiny: Path, tmp_path: Path) -> None:
    scenario = load_scenario(tiny)
    lost, failed, done = RunKey("plain", 0), RunKey("plain", 1), RunKey("clipped", 0)
    for key, status, error in (
        (lost, "error", {"message": "lost node ...", "transient": True}),
        (failed, "error", {"message": "RuntimeError: boom"}),
        (done, "ok", None),
    ):
        record = base_record(scenario, key) | {"status": status, **({"error": error} if error else {})}
        save_result(tmp_path, key, record)
    assert reusable_result(tmp_path, scenario, lost) is None
    assert reusable_result(tmp_path, scenario, failed)["status"] == "error"  # the run's own error is a result
    assert reusable_result(tmp_path, scenario, done)["status"] == "ok"


def test_retries_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(RETRIES_ENV, raising=False)
    assert retries_from_env() == 2
    monkeypatch.setenv(RETRIES_ENV, "0")
    assert retries_from_env() == 0
    monkeypatch.setenv(RETRIES_ENV, "-1")
    with pytest.raises(ValueError, match="HARNESS_RAY_RETRIES"):
        retries_from_env()
