"""Ablation verdicts on scripted outcomes: which fix is sufficient alone, which is necessary."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.experiments.ablation import ablation_scenario
from harness.experiments.ablation_verdicts import ArmOutcome, arm_acted, outcome, verdicts
from harness.experiments.arms import Fix, find_fixes, plan_arms
from harness.scenario.expectations import parse_pass_rate

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


# what harness.core.pluginmanager.plugin_slots gives for these plugins
SLOTS = {
    "class_weights": {"make_criterion"},
    "sample_weighted_loss": {"make_criterion"},
    "linear_warmup": {"make_scheduler"},
    "grad_clip": set(),
    "prediction_distribution": set(),
}
REPLACES = {"class_weights": {"sample_weighted_loss"}}


def test_without_slots_each_differing_plugin_is_a_fix_in_target_order_then_base_only() -> None:
    fixes = find_fixes(BASE, TARGET)
    assert [f.name for f in fixes] == ["class_weights", "linear_warmup", "grad_clip", "sample_weighted_loss"]
    by_name = {f.name: f for f in fixes}
    assert by_name["class_weights"] == Fix(("class_weights",), {}, {"class_weights": {"label_smoothing": 0.05}})
    assert by_name["sample_weighted_loss"].target == {}
    assert by_name["class_weights"].change == "off -> on"
    assert by_name["sample_weighted_loss"].change == "on -> off"
    assert by_name["linear_warmup"].change == "interval: epoch -> step"
    g = {"max_norm": 1.0, "max_value": None}, {"max_norm": 0.5, "max_value": 2.0}
    assert Fix(("g",), {"g": g[0]}, {"g": g[1]}).change == "max_norm: 1.0 -> 0.5, max_value: null -> 2.0"
    assert (
        Fix(("c",), {"c": {"weights_only": None}}, {"c": {"weights_only": True}}).change == "weights_only: null -> true"
    )


def test_plugins_competing_for_one_slot_are_one_fix() -> None:
    """make_criterion: sample_weighted_loss -> class_weights is one change of one slot."""
    fixes = find_fixes(BASE, TARGET, SLOTS, REPLACES)
    assert [f.name for f in fixes] == ["class_weights", "linear_warmup", "grad_clip"]
    criterion = fixes[0]
    assert criterion.plugins == ("class_weights", "sample_weighted_loss") and criterion.slot == "make_criterion"
    assert criterion.occupants == {"base": ["sample_weighted_loss"], "target": ["class_weights"]}
    assert criterion.change == "make_criterion: sample_weighted_loss -> class_weights"
    row = criterion.as_dict()
    assert row["slot"] == "make_criterion" and row["occupants"] == criterion.occupants
    assert row["base"] == {"sample_weighted_loss": {}} and row["target"] == {"class_weights": {"label_smoothing": 0.05}}
    assert fixes[1].slot is None and fixes[1].plugins == ("linear_warmup",)  # one plugin, other parameters
    # a declared replacement groups them even without a shared hook
    assert [f.name for f in find_fixes(BASE, TARGET, {}, REPLACES)] == ["class_weights", "linear_warmup", "grad_clip"]
    assert find_fixes(BASE, TARGET, {}, REPLACES)[0].slot == "replaces"


def test_a_slot_arm_switches_the_base_occupant_off_and_the_target_occupant_on() -> None:
    arms = {a.name: a for a in plan_arms("broken", "fixed", BASE, TARGET, find_fixes(BASE, TARGET, SLOTS, REPLACES))}
    assert list(arms) == [
        "broken",
        "broken+class_weights",
        "broken+linear_warmup",
        "broken+grad_clip",
        "fixed",
        "fixed-class_weights",
        "fixed-linear_warmup",
        "fixed-grad_clip",
    ]
    plus, minus = arms["broken+class_weights"], arms["fixed-class_weights"]
    assert "sample_weighted_loss" not in plus.plugins and plus.plugins["class_weights"] == {"label_smoothing": 0.05}
    assert "class_weights" not in minus.plugins and minus.plugins["sample_weighted_loss"] == {}
    assert plus.switched_on == ("class_weights",) and minus.switched_on == ("sample_weighted_loss",)
    assert arms["fixed-grad_clip"].switched_on == ()  # switches grad_clip off: nothing must act
    assert arms["broken+linear_warmup"].switched_on == arms["fixed-linear_warmup"].switched_on == ("linear_warmup",)


def test_identical_settings_have_no_fixes() -> None:
    assert find_fixes(BASE, dict(BASE)) == []


def test_arms_set_exactly_one_fix_as_in_the_other_variant() -> None:
    arms = {a.name: a for a in plan_arms("broken", "fixed", BASE, TARGET)}
    assert list(arms) == [
        "broken",
        "broken+class_weights",
        "broken+linear_warmup",
        "broken+grad_clip",
        "broken+sample_weighted_loss",
        "fixed",
        "fixed-class_weights",
        "fixed-linear_warmup",
        "fixed-grad_clip",
        "fixed-sample_weighted_loss",
    ]
    assert arms["broken"].plugins == BASE and arms["fixed"].plugins == TARGET
    assert arms["broken+linear_warmup"].plugins == {**BASE, "linear_warmup": {"interval": "step"}}
    assert arms["broken+sample_weighted_loss"].plugins == {k: v for k, v in BASE.items() if k != "sample_weighted_loss"}
    assert arms["fixed-class_weights"].plugins == {k: v for k, v in TARGET.items() if k != "class_weights"}
    assert arms["fixed-linear_warmup"].plugins == {**TARGET, "linear_warmup": {"interval": "epoch"}}
    assert arms["fixed-sample_weighted_loss"].plugins == {**TARGET, "sample_weighted_loss": {}}
    assert {a.role for a in arms.values()} == {"base", "base+fix", "target", "target-fix"}
    assert arms["fixed-grad_clip"].source == "fixed" and arms["broken+grad_clip"].source == "broken"


def _table(seed_results: dict[str, list[bool]], rule: str | None = None, acted: dict | None = None) -> dict:
    arms = plan_arms("broken", "fixed", BASE, TARGET)
    parsed = parse_pass_rate(rule) if rule else None
    outcomes = {a.name: outcome(seed_results.get(a.name, [False, False, False]), parsed) for a in arms}
    return verdicts(arms, outcomes, acted)


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
    assert lw["base_plus_fix"] == {
        "variant": "broken+linear_warmup",
        "passed_runs": 3,
        "runs": 3,
        "cured": True,
        "seeds_disagree": False,
        "fix_acted": True,
    }
    assert table["base"]["cured"] is False and table["target"]["cured"] is True


def test_pass_rate_decides_between_seeds() -> None:
    results = {
        "fixed": [True, True, True],
        "broken+linear_warmup": [True, True, False],
        "fixed-grad_clip": [True, False, True],
    }
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


def _records(arm: str, runs: int, acted_hooks: list[dict]) -> list[dict]:
    return [{"variant": arm, "seed": i, "trace": acted_hooks[i]} for i in range(runs)]


def test_arm_acted_reads_the_trace_of_every_run() -> None:
    arms = {a.name: a for a in plan_arms("broken", "fixed", BASE, TARGET)}
    records = _records(
        "broken+class_weights",
        3,
        [
            {"make_criterion": {"class_weights": 1}, "on_epoch_end": {"prediction_distribution": 2}},
            {"make_criterion": {"sample_weighted_loss": 1}},  # the v1.5 loss won: the fix never ran
            {"on_step": {"class_weights": 0}},  # a zero count is not acting
        ],
    ) + _records("broken", 1, [{"make_criterion": {"class_weights": 1}}])  # another arm's run
    assert arm_acted(arms["broken+class_weights"], records) == {"class_weights": {"acted_runs": 1, "runs": 3}}
    assert arm_acted(arms["fixed-grad_clip"], records) == {}  # switches a plugin off: nothing to check


def test_an_arm_whose_fix_never_acted_is_no_verdict() -> None:
    """The issue-11 ablation's broken+class_weights arm trained with the v1.5 loss: n/a, with a warning."""
    results = {"fixed": [True] * 3, "fixed-class_weights": [True] * 3, "fixed-linear_warmup": [False] * 3}
    ok = {"acted_runs": 3, "runs": 3}
    acted = {
        "broken+class_weights": {"class_weights": {"acted_runs": 0, "runs": 3}},
        "broken+linear_warmup": {"linear_warmup": ok},
        "fixed-linear_warmup": {"linear_warmup": {"acted_runs": 2, "runs": 3}},
        "fixed-sample_weighted_loss": {"sample_weighted_loss": ok},
    }
    table = _table(results, acted=acted)
    cw, lw = _row(table, "class_weights"), _row(table, "linear_warmup")
    assert cw["sufficient"] is None and cw["base_plus_fix"]["fix_acted"] is False
    assert cw["necessary"] is False and cw["target_minus_fix"]["fix_acted"] is True
    assert lw["sufficient"] is False and lw["necessary"] is None  # 1 of 3 target-fix runs never ran it
    assert any(
        "'broken+class_weights' does not measure the fix: class_weights never ran a hook in 3 of 3" in w
        for w in table["warnings"]
    )
    assert any("'fixed-linear_warmup'" in w and "'necessary' of linear_warmup is n/a" in w for w in table["warnings"])
    assert _row(_table(results), "class_weights")["sufficient"] is False  # without the check it would be a verdict


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
    from harness.experiments.arms import train_differences
    from harness.scenario import load_scenario

    path = tmp_path / "abl.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    derived, arms = ablation_scenario(scenario, "broken", "fixed")
    assert (
        list(derived.variants)
        == [a.name for a in arms]
        == ["broken", "broken+linear_warmup", "broken+grad_clip", "fixed", "fixed-linear_warmup", "fixed-grad_clip"]
    )
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
    fixes = [a.fix_name for a in arms if a.role == "base+fix"]
    assert fixes and len(derived.variants) == 2 + 2 * len(fixes)
    if scenario_file == "issue11.yaml":  # the criterion is one slot: sample_weighted_loss -> class_weights
        assert fixes == ["class_weights", "lr_scaling", "linear_warmup", "grad_clip", "collapse_stop", "checkpoint"]
        criterion = next(a for a in arms if a.name == "broken+class_weights")
        assert criterion.fix.slot == "make_criterion"
        assert criterion.fix.occupants == {"base": ["sample_weighted_loss"], "target": ["class_weights"]}
        assert "sample_weighted_loss" not in derived.variants["broken+class_weights"].plugins
        assert "class_weights" not in derived.variants["fixed-class_weights"].plugins
        assert "sample_weighted_loss" in derived.variants["fixed-class_weights"].plugins


SLOT_SCENARIO = """\
name: slots
workload:
  name: devign
  params: {n_train: 96, n_val: 48, max_length: 32, vocab_size: 300, hidden_size: 16, num_layers: 1,
           num_heads: 2, intermediate_size: 32}
train: {epochs: 1, batch_size: 32, lr: 1.0e-3, device: cpu, threads: 1}
variants:
  broken:
    plugins: {sample_weighted_loss: true}
    expect: [status == ok]
  fixed:
    plugins: {class_weights: true, scale_matching: true}   # scale_matching: no distillation term to act on
    expect: [status == ok]
"""


@pytest.mark.slow
def test_ablate_toggles_the_slot_and_checks_every_arms_trace(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from harness.cli import main

    path = tmp_path / "slots.yaml"
    path.write_text(SLOT_SCENARIO)
    out = tmp_path / "abl.json"
    result = CliRunner().invoke(
        main,
        ["ablate", str(path), "--seed", "0", "-j", "2", "-q", "--json", str(out), "--results-dir", str(tmp_path / "r")],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    ablation, runs = report["ablation"], {r["variant"]: r for r in report["runs"]}
    criterion, scale = ablation["fixes"]
    assert (criterion["plugin"], criterion["slot"]) == ("class_weights", "make_criterion")
    assert criterion["occupants"] == {"base": ["sample_weighted_loss"], "target": ["class_weights"]}
    assert "make_criterion: sample_weighted_loss -> class_weights" in result.output
    # base + fix really trains with the class weights, target - fix with the v1.5 loss
    assert runs["broken+class_weights"]["trace"]["make_criterion"] == {"class_weights": 1}
    assert runs["fixed-class_weights"]["trace"]["make_criterion"] == {"sample_weighted_loss": 1}
    assert criterion["base_plus_fix"]["fix_acted"] and criterion["target_minus_fix"]["fix_acted"]
    assert criterion["sufficient"] is None and criterion["necessary"] is False  # the base passes `status == ok` too
    # scale_matching never ran a hook (no distillation term raises distill_inputs): not a verdict
    assert scale["base_plus_fix"]["fix_acted"] is False and scale["sufficient"] is None
    assert any(
        "'slots'" not in w and "scale_matching never ran a hook in 1 of 1 run(s)" in w for w in ablation["warnings"]
    )
    arms = {a["variant"]: a for a in ablation["arms"]}
    assert arms["broken+class_weights"]["acted"] == {"class_weights": {"acted_runs": 1, "runs": 1}}
    assert arms["broken+scale_matching"]["acted"] == {"scale_matching": {"acted_runs": 0, "runs": 1}}
    assert arms["fixed-scale_matching"]["switched_on"] == []


def test_what_cured_means_and_what_deciding_early_saved() -> None:
    from harness.experiments.ablation_verdicts import ablation_passed, cure_rule_text, early_summary
    from harness.scenario.expectations import parse_expectation

    plain, rated = (
        parse_expectation("status == ok"),
        parse_expectation("final.f1 >= 0.3", pass_rate=parse_pass_rate(">= 0.5")),
    )
    assert cure_rule_text("fixed", [plain], None) == "every expectation of 'fixed' holds on every seed"
    assert "at its pass_rate" in cure_rule_text("fixed", [plain, rated], None)
    assert cure_rule_text("fixed", [plain], parse_pass_rate(">= 0.8")).endswith("is >= 0.8")
    records = [{"status": "ok", "steps": 10}, {"status": "decided", "steps": 4}, {"status": "skipped", "steps": 0}]
    assert early_summary(records) == {"runs": 3, "trained": 2, "skipped": 1, "decided": 1, "steps": 14}
    assert ablation_passed(records, {"target": {"cured": True}}) is True
    assert ablation_passed([*records, {"status": "error"}], {"target": {"cured": True}}) is False
    assert ablation_passed(records, {"target": {"cured": False}}) is False


ARMS = ["broken", "broken+linear_warmup", "broken+grad_clip", "fixed", "fixed-linear_warmup", "fixed-grad_clip"]


@pytest.mark.parametrize(
    ("options", "executor", "address"),
    [((), "local", None), (("--executor", "ray", "--address", "auto"), "ray", "auto")],
)
def test_ablate_hands_its_executor_to_the_runs(
    options: tuple[str, ...], executor: str, address: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--executor`/`--address` reach the runs of every arm, as for `harness run` (interrupted before training)."""
    from click.testing import CliRunner

    import harness.execution.runner
    from harness.cli import main

    if executor == "ray":
        pytest.importorskip("ray")
    seen = []

    def interrupted(scenario, keys, **given):  # type: ignore[no-untyped-def]
        seen.append((given["executor"], given["address"], list(dict.fromkeys(k.variant for k in keys))))
        raise KeyboardInterrupt

    monkeypatch.setattr(harness.execution.runner, "run_suite", interrupted)
    monkeypatch.setattr("harness.cli.experiments._check_environment", lambda: None)
    path = tmp_path / "abl.yaml"
    path.write_text(SCENARIO)
    result = CliRunner().invoke(main, ["ablate", str(path), "-q", "--results-dir", str(tmp_path / "r"), *options])
    assert result.exit_code == 130, result.output
    assert seen == [(executor, address, ARMS)]


def test_ablate_refuses_an_address_without_ray(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import main

    path = tmp_path / "abl.yaml"
    path.write_text(SCENARIO)
    result = CliRunner().invoke(main, ["ablate", str(path), "--address", "auto"])
    assert result.exit_code == 2 and "--address needs --executor ray" in result.output


@pytest.mark.slow
def test_ablate_on_ray_runs_every_arm_as_a_ray_task(tmp_path: Path) -> None:
    """The slot ablation on a local Ray instance: every run's record says the node Ray ran it on."""
    pytest.importorskip("ray")
    import json

    from click.testing import CliRunner

    from harness.cli import main

    path = tmp_path / "slots.yaml"
    path.write_text(SLOT_SCENARIO)
    out = tmp_path / "abl.json"
    result = CliRunner().invoke(
        main,
        [
            "ablate",
            str(path),
            "--seed",
            "0",
            "-q",
            "--executor",
            "ray",
            "--json",
            str(out),
            "--results-dir",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert len(report["runs"]) == 6 and all(
        r["node"]["attempts"] == 1 for r in report["runs"] if r["status"] != "skipped"
    )
    criterion = report["ablation"]["fixes"][0]
    assert criterion["sufficient"] is None and criterion["necessary"] is False  # as with the local executor
