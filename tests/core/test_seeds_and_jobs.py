"""End to end on a tiny scenario: results do not depend on -j; `--seeds` runs and reports
every seed; `harness ablate` runs every arm and writes its table."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

TINY = """\
name: tiny
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 2, batch_size: 32, lr: 1.0e-3, device: cpu}
seeds: [0, 1]
variants:
  broken:
    plugins: {linear_warmup: {interval: epoch}}
    expect: [status == ok]
  fixed:
    plugins: {class_weights: true, linear_warmup: {interval: step}, grad_clip: {max_norm: 0.5}}
    expect:
      - status == ok
      - {expect: "epochs_run == 2", pass_rate: ">= 0.5"}
"""


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def _results(records: list[dict]) -> list[tuple]:
    return [
        (r["variant"], r["seed"], r["status"], r["history"], r["lr_per_step"], r["findings"], r["expectations"])
        for r in records
    ]


@pytest.mark.slow
def test_results_are_identical_with_1_and_2_jobs(tiny: Path, tmp_path: Path) -> None:
    """Every run seeds itself from its key and runs with the same thread count whatever -j is:
    the histories (every metric of every epoch), LR per step and findings are equal, bit for bit."""
    from harness.execution.runner import plan_runs, run_suite
    from harness.scenario import load_scenario

    scenario = load_scenario(tiny)
    keys = plan_runs(scenario, ["fixed"], [0, 1])
    one = run_suite(scenario, keys, results_dir=tmp_path / "j1", jobs=1)
    two = run_suite(scenario, keys, results_dir=tmp_path / "j2", jobs=2)
    assert _results(one) == _results(two)
    assert one[0]["history"] != one[1]["history"]  # and the seed does matter


@pytest.mark.slow
def test_run_with_seeds_writes_every_report(tiny: Path, tmp_path: Path) -> None:
    out = {k: tmp_path / f"r.{k}" for k in ("json", "html", "xml")}
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(tiny),
            "--seeds",
            "3",
            "-j",
            "2",
            "-q",
            "--results-dir",
            str(tmp_path / "res"),
            "--set",
            "grad_clip.max_norm=0.25",
            "--json",
            str(out["json"]),
            "--html",
            str(out["html"]),
            "--junit",
            str(out["xml"]),
        ],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out["json"].read_text())
    assert report["seeds"] == [0, 1, 2] and len(report["runs"]) == 6
    fixed = report["variants"]["fixed"]
    assert (fixed["runs"], fixed["passed_runs"], fixed["passed"], fixed["seeds"]) == (3, 3, True, [0, 1, 2])
    # the columns are the workload's declared key metrics (devign keeps a classifier's default)
    assert report["scenario"]["key_metrics"] == ["f1", "max_pred_share", "loss"]
    assert list(fixed["metrics"]) == ["f1", "max_pred_share", "loss"] and fixed["metrics"]["f1"]["n"] == 3
    assert fixed["plugins"]["grad_clip"] == {"max_norm": 0.25, "max_value": None}  # --set reached every run
    assert report["variants"]["broken"]["plugins"]["grad_clip"]["max_norm"] == 0.25
    assert fixed["expectations"][1] == {
        "name": "epochs_run == 2",
        "pass_rate": ">= 0.5",
        "passed": 3,
        "applicable": 3,
        "rate": 1.0,
        "ok": True,
    }
    root = ET.parse(out["xml"]).getroot()
    assert root.get("tests") == str(6 + 3 * 1 + 3 * 2 + 1) and root.get("failures") == "0"
    # loss, the key metrics F1 and max_pred_share, LR per step: the variants overlaid, then one row per variant
    assert out["html"].read_text().count("<svg") == (1 + 2) * 4
    assert "3/3" in result.output and "grad_clip(max_norm=0.25, max_value=None)" in result.output


@pytest.mark.slow
def test_ablate_runs_every_arm_and_writes_the_table(tiny: Path, tmp_path: Path) -> None:
    path = tmp_path / "abl.json"
    result = CliRunner().invoke(
        main,
        [
            "ablate",
            str(tiny),
            "--seed",
            "0",
            "-j",
            "2",
            "-q",
            "--json",
            str(path),
            "--results-dir",
            str(tmp_path / "a"),
        ],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code in (0, 1), result.output
    report = json.loads(path.read_text())
    ablation = report["ablation"]
    assert [f["plugin"] for f in ablation["fixes"]] == ["class_weights", "linear_warmup", "grad_clip"]
    arms = [a["variant"] for a in ablation["arms"]]
    assert arms == [
        "broken",
        "broken+class_weights",
        "broken+linear_warmup",
        "broken+grad_clip",
        "fixed",
        "fixed-class_weights",
        "fixed-linear_warmup",
        "fixed-grad_clip",
    ]
    runs = {r["variant"]: r for r in report["runs"]}
    assert set(runs) == set(arms)
    assert runs["broken+grad_clip"]["plugins"]["grad_clip"]["max_norm"] == 0.5
    assert runs["fixed-linear_warmup"]["plugins"]["linear_warmup"]["interval"] == "epoch"
    assert "class_weights" not in runs["fixed-class_weights"]["plugins"]
    for r in runs.values():  # every arm judged by the target's expectations
        assert [e["name"] for e in r["expectations"]] == ["status == ok", "epochs_run == 2"]
    for row in ablation["fixes"]:
        cured_with = report["variants"][row["base_plus_fix"]["variant"]]["passed"]
        cured_without = report["variants"][row["target_minus_fix"]["variant"]]["passed"]
        assert row["sufficient"] == (None if ablation["base"]["cured"] else cured_with)
        assert row["necessary"] == (None if not ablation["target"]["cured"] else not cured_without)
    assert ablation["base_reproduces"] == {"passed_runs": 1, "runs": 1}
    assert "sufficient" not in result.output or "suffi" in result.output
    assert "interval: epoch -> step" in result.output
