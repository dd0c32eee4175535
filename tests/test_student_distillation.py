"""The student-distillation scenarios: they validate, and replay the incident end to end (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "scenarios" / "student_distillation.yaml"
HEAVY = ROOT / "scenarios" / "student_distillation_heavy_tail.yaml"


def test_scenarios_validate_with_the_reports_settings() -> None:
    main = load_scenario(MAIN)
    assert main.workload == "patch_distillation" and set(main.variants) == {"broken", "fixed"}
    broken, fixed = main.variants["broken"].plugins, main.variants["fixed"].plugins
    assert broken["distillation"].loss == "mse" and broken["loss_weights"].alpha_distill == 0.5
    assert not {"scale_matching", "grad_clip", "sgd_nesterov", "two_stage"} & set(broken)
    assert fixed["distillation"].loss == "kl" and fixed["distillation"].temperature == 4.0
    assert (fixed["loss_weights"].alpha_distill, fixed["loss_weights"].alpha_task) == (0.3, 0.7)
    assert (fixed["grad_clip"].max_norm, fixed["grad_clip"].max_value) == (0.5, 1.0)
    assert fixed["scale_matching"].method == "zscore" and fixed["sgd_nesterov"].nesterov
    heavy = load_scenario(HEAVY)
    assert heavy.workload_params.teacher == "heavy_tailed"
    assert heavy.variants["fixed"].plugins["scale_matching"].method == "robust"
    assert heavy.variants["zscore"].plugins["scale_matching"].method == "zscore"


def _run(scenario: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    report_path = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(scenario),
            "-q",
            "--json",
            str(report_path),
            "--results-dir",
            str(tmp_path / "res"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return proc, {r["variant"]: r for r in report.get("runs", [])}


def _kinds(run: dict) -> set[str]:
    return {f["kind"] for f in run["findings"]}


@pytest.mark.slow
def test_student_distillation_replays_end_to_end(tmp_path: Path) -> None:
    """`harness run scenarios/student_distillation.yaml`: broken collapses, fixed learns, exit 0."""
    proc, runs = _run(MAIN, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken, fixed = runs["broken"], runs["fixed"]
    # broken: the raw-logit MSE explodes, saturates the tanh at -2 and collapses the outputs
    assert {"mode_collapse", "loss_explosion", "grad_explosion"} <= _kinds(broken)
    last = broken["history"][-1]
    assert last["output_std"] < 1e-3 and last["auc"] <= 0.6
    assert last["student_logit_max"] < -1.9  # every patch pushed to the lower bound
    assert broken["history"][0]["loss"] > 1e5
    # fixed: normalized KL distillation learns the anomaly
    assert fixed["history"][-1]["auc"] >= 0.85
    assert not {"mode_collapse", "loss_explosion", "saturation"} & _kinds(fixed)
    assert max(h["loss"] for h in fixed["history"]) <= 5
    assert fixed["history"][-1]["output_std"] > 0.1
    for plugin, hook in [
        ("scale_matching", "distill_inputs"),
        ("distillation", "extra_losses"),
        ("two_stage", "make_scheduler"),
        ("logit_norm", "on_batch"),
    ]:
        assert fixed["trace"][hook].get(plugin), (plugin, hook)


@pytest.mark.slow
def test_heavy_tailed_teacher_explodes_raw_mse_and_robust_matching_keeps_it_bounded(tmp_path: Path) -> None:
    proc, runs = _run(HEAVY, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    explosions = [f for f in runs["broken"]["findings"] if f["kind"] == "loss_explosion"]
    assert explosions and explosions[0]["epoch"] == 1 and explosions[0]["value"] > 100
    fixed = runs["fixed"]
    assert "loss_explosion" not in _kinds(fixed) and "loss_explosion" not in _kinds(runs["zscore"])
    assert fixed["history"][-1]["auc"] >= 0.85
    assert max(h["loss"] for h in fixed["history"]) <= 5
