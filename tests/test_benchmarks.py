"""The parity benchmark's own machinery: interleaving three trainings keeps their weights equal.

`benchmarks/parity.py` trains (a) a plain PyTorch loop, (b) the harness with only the
core plugin and (c) the harness with the default monitors, one step at a time in turn.
Its verdict is trustworthy only if that interleaving gives each training exactly the
random stream and data it would get alone; this checks the weight equality (never the
timings, which depend on the machine). The detector benchmark's reduced mode
(`benchmarks/detectors.py --quick`) runs here too.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from harness.testing import tiny_train_config, tiny_workload

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
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


@pytest.mark.slow
def test_the_ablation_benchmark_decides_early_with_the_same_verdicts_and_runs(capsys: pytest.CaptureFixture) -> None:
    """`benchmarks/ablation.py --quick`: exhaustive vs early on a seconds-sized scenario, in one process tree."""
    results = load_benchmark("ablation").main(["--quick"])
    assert results["ok"]
    quick = results["quick_ablation"]
    assert quick["identical_verdicts"] and quick["verdicts"]["fixes"] == {"linear_warmup": (True, True)}
    assert (
        quick["records"]["differing"] == [] and quick["records"]["identical"] > 0 and quick["records"]["prefixes"] > 0
    )
    assert quick["counts"]["early"]["skipped"] > 0 and quick["steps"]["early"] < quick["steps"]["exhaustive"]
    assert "identical verdicts: yes" in capsys.readouterr().out


@pytest.mark.slow
def test_detector_benchmark_quick_mode(tmp_path: Path) -> None:
    """`benchmarks/detectors.py --quick` (what CI runs): every bug case on the tabular workload,
    one seed, through the real executor; the JSON has every table, and on this reduced set
    every bug is caught and no clean run has a finding (measured; see docs/detectors.md)."""
    detectors = load_benchmark("detectors")
    out = tmp_path / "detectors.json"
    result = detectors.main(["--quick", "--json", str(out), "-j", "2"])
    assert json.loads(out.read_text())["overall"] == result["overall"]
    cases = {c.name for c in detectors.CASES if c.applies(detectors.workloads()["tabular_wine"])}
    assert set(result["cells"]) == cases and all(set(row) == {"tabular_wine"} for row in result["cells"].values())
    assert {"stale_gradients", "weight_updates", "lr_schedule", "dead_units"} <= set(result["detectors"])
    overall = result["overall"]
    assert overall["errors"] == []
    assert overall["false_alarms"]["hits"] == 0, overall["false_alarm_runs"]
    assert overall["detection"]["rate"] >= 0.9, result["cells"]


@pytest.mark.slow
def test_user_code_benchmark_quick_mode(tmp_path: Path) -> None:
    """`benchmarks/detectors.py --user-code --quick` (CI): six bugs written as user code and the
    three clean twins, one seed, through the real executor. The structure is complete (every
    bug has a hurts decision and its runs), the clean twins train well with no finding at all,
    and every hurting bug of the six is detected (the full run's numbers are in docs/detectors.md)."""
    detectors = load_benchmark("detectors")
    out = tmp_path / "detectors-user.json"
    result = detectors.main(["--user-code", "--quick", "--json", str(out), "-j", "2"])
    from user_code import QUICK_BUGS, TWINS  # importable: the benchmark put benchmarks/ on sys.path

    assert json.loads(out.read_text())["totals"] == result["totals"]
    rows = {r["bug"]: r for r in result["bugs"]}
    assert set(rows) == set(QUICK_BUGS)
    for row in rows.values():
        assert isinstance(row["hurts"], bool) and row["runs"] == 1 and row["twin"] in TWINS
        assert row["family"] and row["description"] and "detected" in row and "kinds" in row
    clean = [r for r in result["runs"] if r["case"] == "clean"]
    assert {r["twin"] for r in clean} == set(TWINS)
    assert all(r["status"] == "ok" and r["findings"] == [] for r in clean), clean
    assert all(t["f1"] > 0.9 for t in result["twins"].values()), result["twins"]
    assert result["totals"]["clean_runs_with_finding"] == []
    # labels 1..10 for 10 logits: refused by the contract check before training (an error run that hurts)
    assert rows["digits_one_based"]["statuses"] == ["error"] and rows["digits_one_based"]["hurts"]
    assert rows["digits_one_based"]["kinds"] == ["contract"]
    assert all(r["detected"] == r["runs"] for r in rows.values() if r["hurts"]), rows
    assert {d["detector"] for d in result["detectors"]} >= {"convergence", "prediction_distribution"}


@pytest.mark.slow  # about 30 s on two free cores
def test_the_doctor_benchmark_quick_mode_never_proves_a_cure_below_its_reference(capsys: pytest.CaptureFixture) -> None:
    """`benchmarks/doctor.py --quick`: a proven cure's metric is at least the reference's mean minus the tolerance."""
    results = load_benchmark("doctor").main(["--quick"])
    assert results["ok"]
    for row in results["rows"].values():
        assert row["best"] is not None, row
        assert row["cure_mean"] >= row["threshold"], row
        assert row["twin_mean"] is None or row["cure_mean"] >= row["twin_mean"] - 0.05, row
    assert "every proven cure reaches its reference: yes" in capsys.readouterr().out
