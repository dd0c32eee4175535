"""The parity benchmark's own machinery: interleaving three trainings keeps their weights equal.

`benchmarks/parity.py` trains (a) a plain PyTorch loop, (b) the harness with only the
core plugin and (c) the harness with the default monitors, one step at a time in turn.
Its verdict is trustworthy only if that interleaving gives each training exactly the
random stream and data it would get alone; this checks the weight equality (never the
timings, which depend on the machine).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from harness.testing import tiny_train_config, tiny_workload

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parity_benchmark_weights_are_equal_when_interleaved() -> None:
    parity = load_benchmark("parity")
    workload = tiny_workload(hidden_dropout=0.1)  # dropout on: the RNG hand-over must be exact
    cfg = tiny_train_config(epochs=2, batch_size=16)
    result = parity.measure(workload, cfg, repeats=1, warmup=0, log=lambda line: None)
    assert result["equal_b"] and result["equal_c"], result["differing"]
    assert result["steps_timed"] == 2 * (96 // 16 - 1)  # every step but each epoch's first


def test_interleaved_training_equals_training_alone() -> None:
    """The baton's RNG switching: (b) trained in turn with (a) and (c) == (b) trained alone."""
    from harness.testing import run_tiny

    parity = load_benchmark("parity")
    workload = tiny_workload(hidden_dropout=0.1)
    cfg = tiny_train_config(epochs=1, batch_size=16)
    _, models = parity.trio(workload, cfg, seed=0)
    alone, status, _ = run_tiny({}, monitors=False, workload=workload, epochs=1, batch_size=16)
    assert status == "ok"
    own = dict(alone.model.named_parameters())
    assert all(torch.equal(p, own[n]) for n, p in models["b"].named_parameters())


def test_a_different_seed_would_be_caught() -> None:
    parity = load_benchmark("parity")
    workload = tiny_workload()
    cfg = tiny_train_config(epochs=1, batch_size=16)
    _, first = parity.trio(workload, cfg, seed=0)
    _, other = parity.trio(workload, cfg, seed=1)
    equal, differing = parity.weights_equal(first["a"], other["b"])
    assert not equal and differing


def test_trivial_workload_trio_is_equal_too() -> None:
    """The trivial linear workload the benchmark uses to isolate the harness's own cost."""
    from types import SimpleNamespace

    parity = load_benchmark("parity")
    cfg = SimpleNamespace(epochs=1, batch_size=64, lr=1e-3, weight_decay=0.01, accumulation_steps=1, warmup_ratio=0.1)
    clocks, models = parity.trio(parity.TrivialWorkload(n_train=64 * 10), cfg, seed=0)
    assert len(clocks["a"].steps) == len(clocks["c"].steps) == 10
    assert parity.weights_equal(models["a"], models["b"])[0] and parity.weights_equal(models["a"], models["c"])[0]
