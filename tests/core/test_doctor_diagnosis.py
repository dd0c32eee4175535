"""The doctor explains in words: a diagnosis for every finding, even when no plugin can cure it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.experiments import doctor as doc
from harness.scenario import load_scenario

SOFTMAX = {
    "name": "softmax_user",
    "workload": {"name": "tabular", "params": {"data": "sklearn:wine"}},
    "train": {"epochs": 2, "batch_size": 16, "lr": 1.0e-2, "device": "cpu", "threads": 1},
    "variants": {"broken": {"plugins": {"bug_softmax_before_ce": True}}},
}


def test_a_softmax_before_the_loss_is_named_with_the_change_to_make(tmp_path: Path) -> None:
    from harness.execution.run_one import execute_run

    def runner(derived, keys):
        return [execute_run(derived, key, work_dir=tmp_path) for key in keys]

    _, _, section = doc.diagnose(load_scenario(SOFTMAX), "broken", [0], runner)
    (entry,) = [d for d in section["diagnosis"] if d["kind"] == "probability_outputs"]
    top = entry["causes"][0]
    assert top["verdict"] == "supports" and "softmax" in top["cause"]
    assert "give the loss the raw logits" in top["cure"] and top["plugin"] is None
    assert section["candidates"] == []  # nothing to try: the cure is the user's line


def test_the_cli_prints_the_diagnosis_and_no_empty_table(tmp_path: Path, monkeypatch) -> None:
    import yaml

    from harness.cli.main import main

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SOFTMAX))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["doctor", "s.yaml", "--variant", "broken", "--seeds", "1"], terminal_width=80)
    out = result.output
    assert "diagnosis" in out and "likely: softmax (or sigmoid) before a loss that applies it" in out
    assert "cure: remove the softmax/sigmoid at the end of the model" in out
    assert "┏" not in out and "━━━" not in out.split("diagnosis")[1]  # no table drawn without candidates
    assert "make the cure of the diagnosis above in your code" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_an_lr_of_zero_rules_out_an_optimizer_over_other_parameters_as_why_weights_did_not_move() -> None:
    from harness.plugins._shared.evidence import weights_still_unexplained

    stalled = {"kind": "weights_not_updating", "epoch": 1, "message": "weights did not move"}
    zero = {"kind": "lr_zero", "epoch": 1, "message": "the LR is 0 from step 1"}
    assert weights_still_unexplained([{"findings": [stalled]}])[0] == "supports"
    verdict, text = weights_still_unexplained([{"findings": [stalled, zero]}])
    assert verdict == "rules out" and "LR was (near) 0" in text


def test_units_that_die_after_the_loss_overshot_do_not_blame_their_initialisation() -> None:
    from harness.plugins._shared.evidence import seen_before_overshoot

    dead = {"kind": "dead_units", "epoch": 2, "step": 50, "message": "99% of the units never positive"}
    exploded = {"kind": "loss_explosion", "epoch": 1, "step": 7, "message": "step 7 loss 16 > 10 x start"}
    test = seen_before_overshoot("dead_units")
    assert test([{"findings": [dead]}])[0] == "supports"  # dead from the start: the init
    verdict, text = test([{"findings": [exploded, dead]}])
    assert verdict == "possible" and "loss_explosion came first" in text


def test_an_explosion_in_warmup_that_recurs_at_the_peak_lr_supports_a_too_high_lr() -> None:
    from harness.plugins._shared.evidence import lr_at_first

    lrs = [0.1 * i for i in range(1, 31)] + [3.0] * 70  # a 30-step warmup to 3.0
    early = {"kind": "loss_explosion", "epoch": 1, "step": 7, "message": "exploded"}
    late = {"kind": "loss_explosion", "epoch": 2, "step": 60, "message": "exploded again"}
    test = lr_at_first("loss_explosion")
    assert test([{"findings": [early], "lr_per_step": lrs}])[0] == "possible"  # a transient warmup spike
    verdict, text = test([{"findings": [early, late], "lr_per_step": lrs}])
    assert verdict == "supports" and "again at step 60" in text
