"""`harness run --executor ray`: each (variant, seed) a Ray task, same records as the local executor.

The end-to-end test starts a local Ray instance (2 CPUs, no dashboard) inside the
executor; it is skipped only when ray is not installed (`pip install 'harness[ray]'`,
which the `test` extra includes).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.ray_executor import task_resources, wants_gpu
from harness.runner import RunKey
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

#: what may differ between two executions of the same run
VOLATILE = {"seconds"}


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def stable(run: dict) -> dict:
    return {k: v for k, v in run.items() if k not in VOLATILE}


@pytest.mark.slow
def test_ray_executor_gives_the_local_executors_records(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    import ray

    code_local, out_local = run_cli("run", str(tiny), "-q", "-j", "2", "--json", str(tmp_path / "local.json"),
                                    "--results-dir", str(tmp_path / "local"))
    code_ray, out_ray = run_cli("run", str(tiny), "-q", "--executor", "ray", "--json", str(tmp_path / "ray.json"),
                                "--results-dir", str(tmp_path / "ray"))
    assert not ray.is_initialized()  # the local instance the executor started is shut down
    # the `clipped` variant's impossible expectation fails under both executors: exit 1
    assert (code_local, code_ray) == (1, 1), out_local + out_ray
    local = json.loads((tmp_path / "local.json").read_text())
    remote = json.loads((tmp_path / "ray.json").read_text())
    assert [(r["variant"], r["seed"]) for r in remote["runs"]] == [
        ("plain", 0), ("plain", 1), ("clipped", 0), ("clipped", 1)
    ]
    for a, b in zip(local["runs"], remote["runs"]):
        assert a["status"] == "ok" and len(a["history"]) == 2 and a["steps"] == 6
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
