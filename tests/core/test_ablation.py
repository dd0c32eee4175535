"""Ablation verdicts on scripted outcomes: which fix is sufficient alone, which is necessary."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.ablation import ArmOutcome, Fix, ablation_scenario, find_fixes, outcome, plan_arms, verdicts
from harness.expectations import parse_pass_rate

# issue-11-like settings: v1.5 (base) vs v1.6 (target)
BASE = {
    "defaults": {},
    "prediction_distribution": {"min_share": 0.0},
    "sample_weighted_loss": {},
    "linear_warmup": {"interval": "epoch"},
}
TARGET = {
    "defaults": {},
    "prediction_distribution": {"min_share": 0.0},
    "class_weights": {"label_smoothing": 0.05},
    "linear_warmup": {"interval": "step"},
    "grad_clip": {"max_norm": 1.0, "max_value": None},
}


def test_fixes_are_the_plugins_whose_setting_differs_in_target_order_then_base_only() -> None:
    fixes = find_fixes(BASE, TARGET)
    assert [f.plugin for f in fixes] == ["class_weights", "linear_warmup", "grad_clip", "sample_weighted_loss"]
    by_name = {f.plugin: f for f in fixes}
    assert by_name["class_weights"] == Fix("class_weights", None, {"label_smoothing": 0.05})
    assert by_name["sample_weighted_loss"].target is None
    assert by_name["class_weights"].change == "off -> on"
    assert by_name["sample_weighted_loss"].change == "on -> off"
    assert by_name["linear_warmup"].change == "interval: epoch -> step"
    assert Fix("g", {"max_norm": 1.0, "max_value": None}, {"max_norm": 0.5, "max_value": 2.0}).change == (
        "max_norm: 1.0 -> 0.5, max_value: null -> 2.0"
    )
    assert Fix("checkpoint_load", {"weights_only": None}, {"weights_only": True}).change == "weights_only: null -> true"


def test_identical_settings_have_no_fixes() -> None:
    assert find_fixes(BASE, dict(BASE)) == []


def test_arms_set_exactly_one_plugin_as_in_the_other_variant() -> None:
    arms = {a.name: a for a in plan_arms("broken", "fixed", BASE, TARGET)}
    assert list(arms) == [
        "broken", "broken+class_weights", "broken+linear_warmup", "broken+grad_clip", "broken+sample_weighted_loss",
        "fixed", "fixed-class_weights", "fixed-linear_warmup", "fixed-grad_clip", "fixed-sample_weighted_loss",
    ]
    assert arms["broken"].plugins == BASE and arms["fixed"].plugins == TARGET
    assert arms["broken+linear_warmup"].plugins == {**BASE, "linear_warmup": {"interval": "step"}}
    assert arms["broken+sample_weighted_loss"].plugins == {k: v for k, v in BASE.items() if k != "sample_weighted_loss"}
    assert arms["fixed-class_weights"].plugins == {k: v for k, v in TARGET.items() if k != "class_weights"}
    assert arms["fixed-linear_warmup"].plugins == {**TARGET, "linear_warmup": {"interval": "epoch"}}
    assert arms["fixed-sample_weighted_loss"].plugins == {**TARGET, "sample_weighted_loss": {}}
    assert {a.role for a in arms.values()} == {"base", "base+fix", "target", "target-fix"}
    assert arms["fixed-grad_clip"].source == "fixed" and arms["broken+grad_clip"].source == "broken"


def _table(seed_results: dict[str, list[bool]], rule: str | None = None) -> dict:
    arms = plan_arms("broken", "fixed", BASE, TARGET)
    parsed = parse_pass_rate(rule) if rule else None
    outcomes = {a.name: outcome(seed_results.get(a.name, [False, False, False]), parsed) for a in arms}
    return verdicts(BASE, TARGET, arms, outcomes)


def _row(table: dict, plugin: str) -> dict:
    return next(r for r in table["fixes"] if r["plugin"] == plugin)


def test_issue11_mechanism_scripted() -> None:
    """Per-step scheduling alone cures and its absence breaks; class weights neither; grad clipping only needed."""
    table = _table(
        {
            "broken+linear_warmup": [True, True, True],
            "fixed": [True, True, True],
            "fixed-class_weights": [True, True, True],
            "fixed-sample_weighted_loss": [True, True, True],
            "fixed-linear_warmup": [False, False, False],
            "fixed-grad_clip": [False, True, False],
        }
    )
    assert table["warnings"] == []
    lw, cw, gc, swl = (_row(table, p) for p in ("linear_warmup", "class_weights", "grad_clip", "sample_weighted_loss"))
    assert (lw["sufficient"], lw["necessary"]) == (True, True)
    assert (cw["sufficient"], cw["necessary"]) == (False, False)
    assert (gc["sufficient"], gc["necessary"]) == (False, True)
    assert (swl["sufficient"], swl["necessary"]) == (False, False)
    assert gc["target_minus_fix"]["passed_runs"] == 1 and gc["target_minus_fix"]["seeds_disagree"] is True
    assert lw["base_plus_fix"] == {"variant": "broken+linear_warmup", "passed_runs": 3, "runs": 3, "cured": True,
                                   "seeds_disagree": False}
    assert table["base"]["cured"] is False and table["target"]["cured"] is True


def test_pass_rate_decides_between_seeds() -> None:
    results = {"fixed": [True, True, True], "broken+linear_warmup": [True, True, False], "fixed-grad_clip": [True, False, True]}
    strict = _table(results)
    assert _row(strict, "linear_warmup")["sufficient"] is False  # 2/3 is not every seed
    assert _row(strict, "grad_clip")["necessary"] is True
    lenient = _table(results, ">= 0.6")
    assert _row(lenient, "linear_warmup")["sufficient"] is True  # 2/3 >= 0.6
    assert _row(lenient, "grad_clip")["necessary"] is False
    assert _row(_table(results, "> 0.7"), "linear_warmup")["sufficient"] is False


def test_vacuous_verdicts_are_na_with_a_warning() -> None:
    base_cured = _table({"broken": [True, True, True], "fixed": [True, True, True]})
    assert all(r["sufficient"] is None for r in base_cured["fixes"])
    assert all(r["necessary"] is True for r in base_cured["fixes"])  # target - fix arms scripted as failing
    assert any("already passes" in w for w in base_cured["warnings"])
    target_not_cured = _table({"fixed": [True, False, False]})
    assert all(r["necessary"] is None for r in target_not_cured["fixes"])
    assert any("does not pass" in w for w in target_not_cured["warnings"])


def test_variant_verdict_with_per_expectation_pass_rates_is_used_when_no_rule() -> None:
    # 2 of 3 seeds pass every line, but the variant's per-expectation pass rates hold: cured
    assert outcome([True, False, True], None, variant_passed=True).cured is True
    assert outcome([True, True, True], None, variant_passed=False).cured is False
    assert outcome([True, False, True], parse_pass_rate(">= 0.9"), variant_passed=True).cured is False
    assert outcome([], None).cured is False
    assert ArmOutcome(0, 3, False).seeds_disagree is False


SCENARIO = """\
name: abl
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu}
variants:
  broken:
    plugins: {linear_warmup: {interval: epoch}}
    train: {epochs: 2}
    expect: [finding collapse]
  fixed:
    plugins: {linear_warmup: {interval: step}, grad_clip: {max_norm: 0.5}}
    expect:
      - status == ok
      - {expect: "final.f1 >= 0.3", pass_rate: ">= 0.5"}
"""


def test_ablation_scenario_derives_validated_variants(tmp_path: Path) -> None:
    from harness.ablation import train_differences
    from harness.scenario import load_scenario

    path = tmp_path / "abl.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    derived, arms = ablation_scenario(scenario, "broken", "fixed")
    assert list(derived.variants) == [a.name for a in arms] == [
        "broken", "broken+linear_warmup", "broken+grad_clip", "fixed", "fixed-linear_warmup", "fixed-grad_clip",
    ]
    v = derived.variants
    assert v["broken+grad_clip"].plugins["grad_clip"].max_norm == 0.5
    assert v["broken+linear_warmup"].plugins["linear_warmup"].interval == "step"
    assert "grad_clip" not in v["fixed-grad_clip"].plugins
    assert v["fixed-linear_warmup"].plugins["linear_warmup"].interval == "epoch"
    # every arm is judged by the target's expectations (with their pass rates), trains as its source
    for variant in v.values():
        assert [e.text for e in variant.expectations] == ["status == ok", "final.f1 >= 0.3"]
        assert variant.expectations[1].pass_rate == parse_pass_rate(">= 0.5")
    assert v["broken+grad_clip"].train.epochs == 2 and v["fixed-grad_clip"].train.epochs == 1
    assert train_differences(scenario, "broken", "fixed") == {"epochs": (2, 1)}
    assert scenario.variants["broken"].expectations[0].text == "finding collapse"  # the original is untouched


@pytest.mark.parametrize("scenario_file", ["issue11.yaml", "student_distillation.yaml", "checkpoint_compat.yaml"])
def test_every_shipped_scenario_has_fixes_to_ablate(scenario_file: str) -> None:
    from harness.scenario import load_scenario

    path = Path(__file__).resolve().parents[2] / "scenarios" / scenario_file
    if not path.exists():
        pytest.skip(f"{scenario_file} not shipped")
    scenario = load_scenario(path)
    derived, arms = ablation_scenario(scenario, "broken", "fixed")
    fixes = [a.fix for a in arms if a.role == "base+fix"]
    assert fixes and len(derived.variants) == 2 + 2 * len(fixes)
    if scenario_file == "issue11.yaml":
        assert set(fixes) == {
            "class_weights", "lr_scaling", "linear_warmup", "grad_clip", "collapse_stop", "checkpoint", "sample_weighted_loss",
        }
