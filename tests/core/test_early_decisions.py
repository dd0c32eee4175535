"""End to end: `harness ablate` decides early by default (`--exhaustive` does not), `harness run`
only with `--decide-early`; reports and the JSON say which runs were decided and skipped.
(The benchmark test checks that the verdicts and every trained run equal the exhaustive ones.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

SCENARIO = """\
name: early
workload:
  name: tabular
  params: {data: "sklearn:wine", hidden_sizes: [16], zero_init_head: true}
train: {epochs: 3, batch_size: 32, lr: 5.0e-2, warmup_ratio: 0.1, device: cpu, threads: 1}
seeds: [0, 1]
variants:
  broken:
    plugins: {linear_warmup: {interval: epoch}}
    expect: [finding collapse by epoch 1]
  fixed:
    plugins: {linear_warmup: {interval: step}}
    expect:
      - no finding collapse
      - final.loss < 0.9
      - status == ok
  too_strict:        # the incident, expected not to collapse: decided in epoch 1
    plugins: {linear_warmup: {interval: epoch}}
    expect: [no finding collapse, final.loss < 0.9]
"""


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "early.yaml"
    path.write_text(SCENARIO)
    return path


@pytest.mark.slow
def test_ablate_decides_early_and_says_what_it_skipped(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "ablate.json"
    result = CliRunner().invoke(
        main, ["ablate", str(scenario), "-q", "-j", "2", "--results-dir", str(tmp_path / "res"), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    runs = {(r["variant"], r["seed"]): r for r in report["runs"]}
    # the collapsed arms fail `no finding collapse` in epoch 1: stopped there, their second seed skipped
    for arm in ("broken", "fixed-linear_warmup"):
        first, second = runs[(arm, 0)], runs[(arm, 1)]
        assert first["status"] == "decided" and first["steps"] < 3 * 4 and len(first["history"]) == 1
        assert first["decided"]["by"] == "no finding collapse" and first["decided"]["epoch"] == 1
        assert [e["name"] for e in first["expectations"] if e.get("open")] == ["final.loss < 0.9", "status == ok"]
        assert second["status"] == "skipped" and second["skipped"]["after_seeds"] == [0] and second["steps"] == 0
        assert report["variants"][arm]["skipped"] == 1 and report["variants"][arm]["runs"] == 1
    assert {runs[(arm, s)]["status"] for arm in ("fixed", "broken+linear_warmup") for s in (0, 1)} == {"ok"}
    ablation = report["ablation"]
    fix = ablation["fixes"][0]
    assert (fix["sufficient"], fix["necessary"]) == (True, True)
    assert fix["target_minus_fix"]["skipped"] == 1 and fix["target_minus_fix"]["decided"] == 1
    assert ablation["early"] == {
        "runs": 8,
        "trained": 6,
        "skipped": 2,
        "decided": 2,
        "steps": ablation["early"]["steps"],
    }
    assert ablation["base_reproduces"] == {"passed_runs": 1, "runs": 1}  # `finding collapse by epoch 1`: known
    assert "0/1+1" in result.output and "decided early: 6 of 8 runs trained" in result.output
    assert "8 run(s), 2 decided, 2 skipped" in result.output


@pytest.mark.slow
def test_run_trains_to_the_end_unless_asked_to_decide_early(scenario: Path, tmp_path: Path) -> None:
    args = ["run", str(scenario), "-q", "-j", "2", "--variant", "too_strict", "--variant", "broken"]
    plain = CliRunner().invoke(
        main, [*args, "--results-dir", str(tmp_path / "a"), "--json", str(tmp_path / "plain.json")]
    )
    early = CliRunner().invoke(
        main, [*args, "--decide-early", "--results-dir", str(tmp_path / "b"), "--json", str(tmp_path / "early.json")]
    )
    assert plain.exit_code == early.exit_code == 1, plain.output + early.output  # too_strict fails either way
    statuses = {
        name: sorted(
            (r["variant"], r["status"], len(r["history"])) for r in json.loads((tmp_path / name).read_text())["runs"]
        )
        for name in ("plain.json", "early.json")
    }
    assert statuses["plain.json"] == [
        ("broken", "ok", 3),
        ("broken", "ok", 3),
        ("too_strict", "ok", 3),
        ("too_strict", "ok", 3),
    ]
    # broken's `finding collapse by epoch 1` holds after epoch 1, but a later divergence could still
    # fail the run (it does not expect one), so it trains to its end
    assert statuses["early.json"] == [
        ("broken", "ok", 3),
        ("broken", "ok", 3),
        ("too_strict", "decided", 1),
        ("too_strict", "skipped", 0),
    ]
    assert "0/1+1" in early.output
