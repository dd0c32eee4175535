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
    assert doc.reference_threshold([0.9, 0.88], "f1", 0.02) == pytest.approx(0.89 - 0.0178)
    assert doc.reference_threshold([0.9, 0.7], "f1", 0.02) == pytest.approx(0.7)  # its worst seed passes its bar
    assert doc.reference_threshold([0.21, 0.23], "val_loss", 0.05) == pytest.approx(0.231)
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
    # lr_scale's fixed menu too: "learning rate too high" is a declared cause of no_convergence; and
    # grad_reset: "zero_grad() never called" is a declared cause of stale_gradients (it loses to optimizer)
    assert (
        {r["variant"] for r in records}
        == set(derived.variants)
        == {
            "broken",
            "reference",
            "broken+optimizer",
            "broken+lr_scale(factor=0.1)",
            "broken+lr_scale(factor=0.01)",
            "broken+grad_reset",
        }
    )


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
    # 0.01 and 0.1 both cure on this seed (lr 0.1 reaches F1 1.0; grad_vanishing used to flag it
    # once its loss was near 0, a false alarm fixed since); the range test's own factor ranks first
    assert verdicts["lr_scale(factor=0.01)"] is True and verdicts["lr_scale(factor=0.1)"] is True
    # the range test's own factor (wine at lr 1.0: about 0.02) is proven too, and ranks first
    test = section["lr_range"]
    assert 1e-3 <= test["suggested_lr"] <= 3e-2 and len(test["lrs"]) == len(test["losses"]) == test["steps"]
    computed = f"lr_scale(factor={test['factor']})"
    assert verdicts[computed] is True and section["best"]["name"] == computed
    assert section["reference"]["what"] == "the variant without its bug plugins"
    assert (
        f"lr_scale: {{factor: {test['factor']}}}" in proc.stdout
        and "Proven fix" in (tmp_path / "doctor.html").read_text()
    )
    assert max(len(line) for line in proc.stdout.split("fixed:")[0].splitlines()) <= 80


def test_the_lr_range_test_rules() -> None:
    from harness.experiments import lr_range

    lrs = lr_range.lr_schedule(1e-7, 10.0, 9)
    assert lrs[0] == pytest.approx(1e-7) and lrs[-1] == pytest.approx(10.0) and lrs[4] == pytest.approx(1e-3)
    assert lr_range.smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected: no warm-up dip
    losses = [3.0] * 8 + [2.0, 1.0, 0.5, 0.4, 2.0, 9.0]
    lrs = lr_range.lr_schedule(1e-4, 1.0, len(losses))
    suggested, at_min, steepest = lr_range.suggest(lrs, losses, skip=2)
    assert at_min == lrs[11] and suggested == pytest.approx(lrs[11] / 10) and steepest == lrs[8]
    assert lr_range.suggest(lrs, [3.0] * len(lrs), skip=2) == (None, None, None)  # the loss never fell: no LR
    assert lr_range.calls_for_range_test({"loss_explosion": 1}) and lr_range.calls_for_range_test({}, {"diverged"})
    assert not lr_range.calls_for_range_test({"collapse": 1}, {"ok"})
    assert lr_range.sweep_steps(10) == 200 and lr_range.sweep_steps(1000) == 300


def test_the_range_test_finds_a_healthy_lr_for_digits_at_lr_10() -> None:
    """AdamW at lr 10 on the digits MLP (10,000x too high): the sweep suggests about 1e-2."""
    from harness.experiments.lr_range import lr_range_test

    scenario = load_scenario(ROOT / "benchmarks" / "scenarios" / "digits_lr10.yaml")
    test = lr_range_test(scenario, "broken", 0)
    assert test.error is None and test.current_lr == 10.0
    assert 1e-4 <= test.suggested_lr <= 3e-2 and test.factor == pytest.approx(test.suggested_lr / 10, rel=1e-2)
    assert "4x its minimum" in test.stopped and test.as_dict()["factor"] == test.factor


def test_without_bugs_the_reference_is_plain_training_at_the_range_tests_lr() -> None:
    available = discover_plugins()
    settings = {"defaults": {}, "sample_weighted_loss": {}, "linear_warmup": {"interval": "epoch"}}
    plain, what = doc.reference_settings(available, settings, 2e-3, 5e-4)
    assert plain == {"defaults": {}, "lr_scale": {"factor": 4.0}} and "at lr 0.002" in what
    assert doc.reference_settings(available, settings)[0] == {"defaults": {}}
    buggy = {"defaults": {}, "bug_lr_too_high": {"factor": 100}, "linear_warmup": {}}
    assert doc.reference_settings(available, buggy, 2e-3, 5e-4) == (
        {"defaults": {}, "linear_warmup": {}},
        "the variant without its bug plugins",
    )


def test_the_computed_lr_candidate_composes_with_an_lr_scale_already_set() -> None:
    kinds = {"loss_explosion": 2, "collapse": 1}
    fresh = doc.computed_lr_candidate({"defaults": {}}, kinds, 1e-3)
    assert fresh.plugins == {"lr_scale": {"factor": 0.001}} and fresh.addresses == ("loss_explosion",)
    again = doc.computed_lr_candidate({"lr_scale": {"factor": 0.1}}, kinds, 0.5)
    assert again.plugins == {"lr_scale": {"factor": 0.05}} and again.reparameterises
    singles = [doc.Candidate({"grad_clip": {}}, label=f"c{i}") for i in range(5)]
    assert doc.with_computed(singles, fresh, 3)[0] is fresh or fresh in doc.with_computed(singles, fresh, 3)
    assert len(doc.with_computed(singles, fresh, 3)) == 3


def test_an_arm_with_a_finding_kind_the_reference_never_showed_is_reported_and_not_cured() -> None:
    cand = doc.Candidate({"lr_scale": {"factor": 0.1}}, label="lr_scale")
    runs = [record("b+x", True, kinds=("grad_vanishing",)), record("b+x", True)]
    verdict = doc.judge(cand, "b+x", "single", runs, "f1", {"loss_explosion"}, None, (), {"no_convergence"})
    assert verdict.new_kinds == ["grad_vanishing"] and verdict.remaining == []
    # the default criterion watches every kind the reference did not show: such a run fails it
    assert doc.judge(cand, "b+x", "single", runs, "f1", {"x"}, None).new_kinds == []  # no reference: none judged new


def test_an_arm_decided_early_keeps_the_verdict_it_was_decided_with() -> None:
    cand = doc.Candidate({"linear_warmup": {"interval": "step"}}, label="linear_warmup")
    failed = {**record("b+x", False), "status": "decided"}
    skipped = {"variant": "b+x", "status": "skipped", "expectations": [], "history": [], "findings": []}
    verdict = doc.judge(cand, "b+x", "single", [failed, skipped, skipped], "f1", set(), None)
    assert (verdict.cured, verdict.passed_runs, verdict.runs, verdict.skipped, verdict.decided) == (False, 0, 3, 2, 1)
    assert verdict.metric["n"] == 0  # a skipped seed has no metric, a run stopped early no final one


def test_a_proven_combination_keeps_only_the_parts_it_needs() -> None:
    a = doc.Candidate({"lr_scale": {"factor": 0.01}}, label="a")
    b = doc.Candidate({"grad_clip": {}}, label="b")
    c = doc.Candidate({"bias_init": {}}, label="c")
    (abc,) = [x for x in doc.combinations_of([a, b, c], top=3, max_size=3) if x.size == 3]
    assert abc.name == "a+b+c" and len(abc.parts) == 3

    def verdict(cand, cured):
        return doc.ArmVerdict(cand, cand.name, "x", 1, 1, cured, True, {}, [])

    cures = {"a+b": True, "a": False, "b": False}  # c is not needed; a and b are
    ran = []

    def try_arms(cands):
        ran.extend(x.name for x in cands)
        return [verdict(x, cures.get(x.name, False)) for x in cands]

    verdicts = [verdict(a, False), verdict(b, False), verdict(c, False), verdict(abc, True)]
    result = doc.minimise(verdicts[-1], verdicts, try_arms)
    assert result["minimal"] == "a+b" and result["of"] == "a+b+c"
    assert set(ran) == {"b+c", "a+c", "a+b"}  # a, b, c alone were already tried
    assert [c["cured"] for c in result["checks"] if c["of"] == "a+b"] == [False, False]


def test_the_doctor_section_fits_80_columns_with_one_line_per_arm() -> None:
    import io

    from rich.console import Console

    from harness.reports.doctor import print_doctor

    arm = {
        "name": "linear_warmup(interval=step)+class_weights+warmup_cosine",
        "description": "x",
        "phase": "combination",
        "passed_runs": 0,
        "runs": 3,
        "skipped": 2,
        "cured": False,
        "metric": {"mean": 0.81234, "std": 0.0123},
        "remaining_kinds": ["collapse", "no_convergence"],
        "new_kinds": ["grad_vanishing", "dead_units"],
        "addresses": [],
    }
    section = {
        "variant": "broken",
        "seeds": [0, 1, 2],
        "observed": {"collapse": 3, "no_convergence": 2},
        "diagnosis": [
            {
                "kind": "collapse",
                "runs": 3,
                "causes": [
                    {
                        "cause": "class imbalance without class weights",
                        "why": "x",
                        "verdict": "possible",
                        "evidence": "nothing in the run says more",
                        "cure": "weight the loss by inverse class frequency",
                        "plugin": "class_weights",
                    }
                ],
            }
        ],
        "metric": "f1",
        "reference": {"what": "plain training", "values": [0.8], "mean": 0.8, "threshold": 0.76},
        "tolerance": 0.05,
        "criterion": ["no finding collapse", "final.f1 >= 0.76", "status == ok"],
        "watched_kinds": ["dead_units"],
        "pass_rate": None,
        "candidates": [arm],
        "warnings": [],
        "best": None,
    }
    buffer = io.StringIO()
    print_doctor(Console(file=buffer, width=80, force_terminal=False), section)
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "possible: class imbalance without class weights" in text and "0/1+2" in text and "new: grad" in text
    buffer = io.StringIO()
    print_doctor(Console(file=buffer, width=80), {**section, "candidates": []})
    assert "arm " not in buffer.getvalue() and "no fix tried" in buffer.getvalue()


def test_the_doctor_proves_seeds_0_to_2_unless_told() -> None:
    assert doc.default_seeds([0]) == [0, 1, 2] and doc.default_seeds([3, 4, 5, 6]) == [3, 4, 5, 6]


@pytest.mark.slow
def test_the_doctor_proves_the_range_tests_lr_on_digits_at_lr_10_reaching_the_clean_twin(tmp_path: Path) -> None:
    """No bug plugin to switch off: the reference is plain training at the range test's LR; the
    proven cure is lr_scale at that factor on 3 seeds, at least the clean twin's (lr 1e-3) F1."""
    from harness.execution.runner import plan_runs, run_suite
    from harness.judging.verdicts import final_value

    scenario = load_scenario(ROOT / "benchmarks" / "scenarios" / "digits_lr10.yaml")

    def runner(derived, keys, **options):
        return run_suite(derived, keys, results_dir=tmp_path / "r", jobs=2, **options)

    _, _, section = doc.diagnose(scenario, "broken", [0, 1, 2], runner, max_candidates=3, max_combination=1)
    test = section["lr_range"]
    assert 1e-4 <= test["suggested_lr"] <= 3e-2
    assert section["reference"]["what"].startswith("plain training (every fix off) at lr")
    best = section["best"]
    assert best["name"] == f"lr_scale(factor={test['factor']})" and best["passed_runs"] == best["runs"] == 3
    twin = run_suite(scenario, plan_runs(scenario, ["clean"], [0, 1, 2]), results_dir=tmp_path / "twin", jobs=2)
    twin_f1 = sum(final_value(r, "f1") for r in twin) / 3
    assert best["metric"]["mean"] >= twin_f1 - 0.01


def test_candidates_are_tried_by_the_evidence_for_the_cause_that_names_them_first() -> None:
    """A cure whose cause the run supports goes before one that addresses more kinds on no evidence."""
    from harness.core.diagnosis import Cause, Cure
    from harness.experiments.doctor_candidates import evidence_of_fixes, with_evidence

    declared = {
        "x": [Cause("a", "why", "cure", (Cure("fix_a"),)), Cause("b", "why", "cure", (Cure("fix_b"),))],
        "y": [Cause("b", "why", "cure", (Cure("fix_b"),))],
    }
    diagnosis = [
        {"kind": "x", "causes": [{"cause": "a", "verdict": "supports"}, {"cause": "b", "verdict": "possible"}]},
        {"kind": "y", "causes": [{"cause": "b", "verdict": "possible"}]},
    ]
    evidence = evidence_of_fixes(declared, diagnosis)
    assert evidence == {"fix_a": 0, "fix_b": 1}
    broad = doc.Candidate({"fix_b": {}}, addresses=("x", "y"), label="fix_b")
    narrow = doc.Candidate({"fix_a": {}}, addresses=("x",), label="fix_a")
    assert [c.name for c in sorted([broad, narrow], key=doc.Candidate.rank_key)] == ["fix_b", "fix_a"]
    assert [c.name for c in with_evidence([broad, narrow], evidence)] == ["fix_a", "fix_b"]


def test_the_metric_bar_is_rounded_so_the_value_it_came_from_passes() -> None:
    """A reference's worst seed of 0.231406 as the val_loss bar reads 0.2315, not 0.2314 (it failed itself)."""
    lines = doc.cure_lines({}, "val_loss", 0.23140673, set(), 4)
    assert "final.val_loss <= 0.2315" in lines
    lines = doc.cure_lines({}, "f1", 0.94369, set(), 4)
    assert "final.f1 >= 0.9436" in lines
