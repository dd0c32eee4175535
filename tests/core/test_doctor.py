"""harness doctor: proposing fixes from findings, judging arms, the proven fix as a variant."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from harness.core.pluginmanager import discover_plugins
from harness.experiments import doctor as doc
from harness.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def names(candidates):
    return [c.name for c in candidates]


def test_issue11_broken_proposes_per_step_scheduler_stepping_first() -> None:
    available = discover_plugins()
    settings = {"defaults": {}, "sample_weighted_loss": {}, "linear_warmup": {"interval": "epoch"}}
    kinds = {"collapse": 1, "lr_zero": 1, "schedule_mismatch": 1, "weights_not_updating": 1}
    candidates = doc.propose(available, settings, kinds)
    first = candidates[0]
    assert first.name == "linear_warmup" and first.reparameterises
    assert first.plugins == {"linear_warmup": {"interval": "step"}}
    assert first.changes == {"linear_warmup": "interval: epoch -> step"}
    by_name = {c.name: c for c in candidates}
    assert by_name["class_weights"].replaced == ("sample_weighted_loss",)  # replaces it (and its slot)
    assert by_name["warmup_cosine"].replaced == ("linear_warmup",)  # the make_scheduler slot
    assert by_name["lr_scale(factor=0.01)"].changes == {"lr_scale": "on: factor=0.01"}  # one candidate per suggestion
    assert "lr_scale(factor=0.1)" in by_name


def test_a_fix_already_set_as_suggested_is_not_proposed_and_unrelated_fixes_neither() -> None:
    available = discover_plugins()
    settings = {"defaults": {}, "linear_warmup": {"interval": "step"}}
    candidates = doc.propose(available, settings, {"lr_zero": 1})
    assert "linear_warmup" not in names(candidates)
    assert "bias_init" not in names(candidates)  # addresses dead_units, not lr_zero


def test_a_bug_in_a_slot_is_replaced_by_the_fix_that_takes_it() -> None:
    available = discover_plugins()
    settings = {"defaults": {}, "bug_foreign_optimizer": {}}
    (candidate,) = [c for c in doc.propose(available, settings, {"weights_not_updating": 1}) if c.name == "optimizer"]
    assert candidate.replaced == ("bug_foreign_optimizer",)
    assert doc.candidate_settings(settings, candidate) == {"defaults": {}, "optimizer": {}}


def test_combinations_skip_candidates_that_cannot_be_on_together() -> None:
    a = doc.Candidate({"linear_warmup": {"interval": "step"}}, (), ("collapse",), label="linear_warmup")
    b = doc.Candidate({"warmup_cosine": {}}, ("linear_warmup",), ("lr_zero",), label="warmup_cosine")
    c = doc.Candidate({"class_weights": {}}, ("sample_weighted_loss",), ("collapse",), label="class_weights")
    combos = doc.combinations_of([a, b, c], top=3, max_size=2)
    # linear_warmup + warmup_cosine cannot be: the latter switches the former off (one scheduler slot);
    # ranked by distinct observed kinds addressed: collapse + lr_zero first
    assert names(combos) == ["warmup_cosine+class_weights", "linear_warmup+class_weights"]


def test_cure_lines_and_the_reference_threshold() -> None:
    assert doc.cure_lines({"collapse", "lr_zero"}, "f1", 0.8) == [
        "no finding collapse",
        "no finding lr_zero",
        "final.f1 >= 0.8",
        "status == ok",
    ]
    assert doc.cure_lines({"x"}, "val_loss", 0.5)[1] == "final.val_loss <= 0.5"
    # a kind the variant still showed at its end must be gone by the end; a passing one, never seen
    assert doc.cure_lines({"collapse", "lr_zero"}, None, None, {"collapse"}, epochs=5)[:2] == [
        "no finding collapse after epoch 4",
        "no finding lr_zero",
    ]
    runs = [
        {
            "history": [{"epoch": 1}, {"epoch": 2}],
            "findings": [{"kind": "lr_zero", "epoch": 1}, {"kind": "collapse", "epoch": 2}],
        }
    ]
    assert doc.persistent_kinds(runs) == {"collapse"}
    assert doc.reference_threshold([0.9, 0.7], "f1", 0.02) == pytest.approx(0.8 - 0.016)
    assert doc.reference_threshold([0.5], "loss", 0.1) == pytest.approx(0.55)
    assert doc.reference_threshold([None], "f1", 0.02) is None


def record(variant: str, passed: bool, acted: bool = True, kinds: tuple[str, ...] = ()) -> dict:
    return {
        "variant": variant,
        "status": "ok",
        "history": [{"epoch": 1, "f1": 0.9 if passed else 0.1}],
        "findings": [{"kind": k, "epoch": 1} for k in kinds],
        "expectations": [{"name": "final.f1 >= 0.8", "passed": passed}],
        "trace": {"on_step": {"linear_warmup": 3 if acted else 0}},
    }


def test_judge_needs_every_seed_or_the_pass_rate_and_a_plugin_that_acted() -> None:
    from harness.scenario.expectations import parse_pass_rate

    cand = doc.Candidate({"linear_warmup": {"interval": "step"}}, label="linear_warmup")
    runs = [record("b+x", True), record("b+x", False, kinds=("collapse",))]
    verdict = doc.judge(cand, "b+x", "single", runs, "f1", {"collapse"}, None)
    assert (verdict.passed_runs, verdict.runs, verdict.cured, verdict.remaining) == (1, 2, False, ["collapse"])
    assert doc.judge(cand, "b+x", "single", runs, "f1", {"collapse"}, parse_pass_rate(">= 0.5")).cured is True
    silent = doc.judge(cand, "b+x", "single", [record("b+x", True, acted=False)], "f1", (), None)
    assert silent.cured is None and "never acted" in silent.why


def test_the_proven_fix_is_a_variant_that_pastes_into_the_scenario(tmp_path: Path) -> None:
    source = (ROOT / "scenarios" / "issue11.yaml").read_text()
    scenario = load_scenario(ROOT / "scenarios" / "issue11.yaml")
    available = discover_plugins()
    settings = {n: p.model_dump(exclude_unset=True) for n, p in scenario.variants["broken"].plugins.items()}
    cand = doc.Candidate({"linear_warmup": {"interval": "step"}}, label="linear_warmup")
    verdict = doc.ArmVerdict(cand, "broken+linear_warmup", "single", 1, 1, True, True, {}, [])
    text = doc.fixed_variant_yaml(
        scenario, "broken", settings, available, verdict, ["no finding collapse", "status == ok"], [0]
    )
    assert yaml.safe_load(textwrap.dedent(text))["fixed"]["plugins"] == {
        "sample_weighted_loss": True,
        "linear_warmup": {"interval": "step"},
    }
    pasted = source.replace("  fixed:\n", "  fixed_by_doctor:\n", 1) + text.replace("  fixed:", "  doctor:", 1) + "\n"
    path = tmp_path / "pasted.yaml"
    path.write_text(pasted)
    assert load_scenario(path).variants["doctor"].plugins["linear_warmup"].interval == "step"


def test_diagnose_end_to_end_in_process_on_a_catalog_bug(tmp_path: Path) -> None:
    """The foreign-optimizer bug: the doctor finds `optimizer` (it takes the bug's slot) without being told."""
    from harness.execution.run_one import execute_run

    scenario = load_scenario(ROOT / "scenarios" / "bugs" / "foreign_optimizer.yaml")

    def runner(derived, keys, **options):
        return [execute_run(derived, key, work_dir=tmp_path) for key in keys]

    derived, records, section = doc.diagnose(scenario, "broken", [0], runner, max_combination=1)
    assert {"weights_not_updating", "stale_gradients"} <= set(section["observed"])
    assert section["reference"]["what"] == "the variant without its bug plugins"
    assert section["best"]["name"] == "optimizer" and section["best"]["replaced"] == ["bug_foreign_optimizer"]
    assert "bug_foreign_optimizer: false" in section["fixed_yaml"]
    assert {r["variant"] for r in records} == set(derived.variants) == {"broken", "reference", "broken+optimizer"}


def test_a_bad_expect_line_fails_before_anything_trains() -> None:
    from harness.scenario.expectations import ExpectationSyntaxError

    scenario = load_scenario(ROOT / "scenarios" / "bugs" / "foreign_optimizer.yaml")
    with pytest.raises(ExpectationSyntaxError):
        doc.diagnose(scenario, "broken", [0], lambda d, k: pytest.fail("trained"), expect=["final.nope >= 1"])


def test_the_cli_refuses_an_unknown_variant_before_training() -> None:
    from click.testing import CliRunner

    from harness.cli import main

    result = CliRunner().invoke(
        main, ["doctor", str(ROOT / "scenarios" / "bugs" / "lr_too_high.yaml"), "--variant", "brokn"]
    )
    assert result.exit_code == 2 and "unknown variant 'brokn'" in result.output


@pytest.mark.slow
def test_harness_doctor_proves_the_catalog_fix_of_an_lr_100x_too_high(tmp_path: Path) -> None:
    """The command end to end (worker processes, --json, --html): lr_scale 0.01 is proven, 0.1 is not."""
    import json
    import subprocess
    import sys

    out = tmp_path / "doctor.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "doctor",
            str(ROOT / "scenarios" / "bugs" / "lr_too_high.yaml"),
            "--seed",
            "0",
            "-j",
            "2",
            "-q",
            "--max-combination",
            "1",
            "--results-dir",
            str(tmp_path / "r"),
            "--json",
            str(out),
            "--html",
            str(tmp_path / "doctor.html"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    section = json.loads(out.read_text())["doctor"]
    verdicts = {c["name"]: c["cured"] for c in section["candidates"]}
    assert verdicts["lr_scale(factor=0.01)"] is True and verdicts["lr_scale(factor=0.1)"] is False
    assert section["best"]["name"] == "lr_scale(factor=0.01)"
    assert "lr_scale: {factor: 0.01}" in proc.stdout and "Proven fix" in (tmp_path / "doctor.html").read_text()
