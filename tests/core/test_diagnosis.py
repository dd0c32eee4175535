"""The causes monitors declare for their finding kinds, and how the doctor ranks them by evidence."""

from __future__ import annotations

from harness.core.diagnosis import Cause, declared_causes, most_likely, rank_causes
from harness.plugins._shared.evidence import (
    config,
    loss_near_chance,
    loss_ratio_near_batch_size,
    lr_at_first,
    seen,
    stepped_per_epoch,
)
from harness.scenario.arms import catalogue


def record(findings=(), lrs=(), history=(), train=None, steps=0):
    return {
        "findings": list(findings),
        "lr_per_step": list(lrs),
        "history": list(history),
        "train": train or {},
        "steps": steps,
    }


def test_every_declared_cause_belongs_to_a_kind_its_monitor_emits_and_names_a_real_plugin() -> None:
    available = catalogue()
    for info in available.values():
        for kind, causes in info.cls.causes.items():
            assert kind in info.cls.finding_kinds, (info.name, kind)
            for cause in causes:
                assert cause.cure and cause.why, cause.name
                if cause.plugin is not None:
                    assert cause.plugin.split(":")[0] in available, cause.plugin
    assert {"probability_outputs", "stale_gradients", "eval_mode", "no_convergence"} <= set(declared_causes(available))


def test_causes_are_ranked_supported_first_then_declared_order_and_repeats_are_marked() -> None:
    a = Cause("a", "why", "cure a", evidence=lambda rs: ("rules out", "no"))
    b = Cause("b", "why", "cure b", evidence=lambda rs: ("supports", "yes"))
    c = Cause("c", "why", "cure c")
    broken = Cause("d", "why", "cure d", evidence=lambda rs: 1 / 0)
    ranked = rank_causes({"x": 1, "y": 2}, {"x": [a, b, c], "y": [c, broken]}, [record()])
    assert [e["kind"] for e in ranked] == ["y", "x"]  # the kind seen in more runs first
    assert [c["cause"] for c in ranked[0]["causes"]] == ["c", "d"]
    assert ranked[0]["causes"][1]["verdict"] == "possible" and "ZeroDivisionError" in ranked[0]["causes"][1]["evidence"]
    assert [(c["cause"], c["verdict"], c.get("repeat", False)) for c in ranked[1]["causes"]] == [
        ("b", "supports", False),
        ("c", "possible", True),  # declared for both kinds: its evidence read once, told under y
        ("a", "rules out", False),
    ]
    top = most_likely(ranked)
    assert [(c["cause"], c["explains"]) for c in top[:2]] == [("b", 1), ("c", 2)]  # evidence before breadth


def test_evidence_reads_findings_config_lr_and_the_loss() -> None:
    explosion = {"kind": "loss_explosion", "epoch": 2, "step": 3, "message": "loss 40"}
    runs = [record([explosion], lrs=[0.1, 0.5, 1.0, 1.0])]
    assert seen("loss_explosion")(runs)[0] == "supports" and seen("nan", otherwise="rules out")(runs)[0] == "rules out"
    verdict, text = lr_at_first("loss_explosion")(runs)
    assert verdict == "supports" and "LR 1" in text
    summed = {"kind": "bad_initial_loss", "epoch": 1, "message": "...", "detail": {"ratio_to_log_c": 64.0}}
    assert lr_at_first("loss_explosion")([record([explosion, summed], lrs=[1.0])])[0] == "possible"  # broken before
    assert loss_ratio_near_batch_size([record([summed], train={"batch_size": 64})])[0] == "supports"
    assert loss_ratio_near_batch_size([record([summed], train={"batch_size": 4})])[0] == "rules out"
    assert config("weight_decay", 0.5)([record(train={"weight_decay": 5.0})])[0] == "supports"
    per_epoch = record(lrs=[0.0] * 4 + [0.1] * 4 + [0.2] * 4, history=[{}, {}, {}], steps=12)
    assert stepped_per_epoch([per_epoch])[0] == "supports"
    per_step = record(lrs=[0.01 * i for i in range(12)], history=[{}, {}, {}], steps=12)
    assert stepped_per_epoch([per_step])[0] == "rules out"
    chance = record(history=[{"loss": 1.05, "pred_count_0": 3, "pred_count_1": 3, "pred_count_2": 4}])
    learned = record(history=[{"loss": 0.1, "pred_count_0": 3, "pred_count_1": 3, "pred_count_2": 4}])
    assert loss_near_chance([chance])[0] == "supports" and loss_near_chance([learned])[0] == "rules out"
    stale = record([{"kind": "stale_gradients", "epoch": 1}], history=chance["history"])
    assert loss_near_chance([stale])[0] == "possible"  # another mechanism explains the stall


def test_evidence_reads_recorded_values_never_the_message_text() -> None:
    """A bad initial loss's ratio to log(C) is read from the finding's ``detail``: the same message
    without it says nothing, and a message that disagrees with it is not believed."""
    worded = {"kind": "bad_initial_loss", "epoch": 1, "message": "initial task loss 147 = 64.0 x log(2) = 0.693"}
    assert loss_ratio_near_batch_size([record([worded], train={"batch_size": 64})])[0] == "possible"
    recorded = worded | {"message": "initial task loss 1.4 = 2.0 x log(2)", "detail": {"ratio_to_log_c": 64.0}}
    assert loss_ratio_near_batch_size([record([recorded], train={"batch_size": 64})])[0] == "supports"
    # the loop's metrics also hold pred_share_<k>; watch's epochs only pred_count_<k>: C is read from the counts
    shares_only = record(history=[{"loss": 1.1, "pred_share_0": 0.5, "pred_share_1": 0.25, "pred_share_2": 0.25}])
    assert loss_near_chance([shares_only])[0] == "possible"


def test_every_finding_kind_of_every_monitor_has_a_cause() -> None:
    available = catalogue()
    kinds = {k for info in available.values() if info.kind == "monitor" for k in info.cls.finding_kinds}
    assert kinds - set(declared_causes(available)) == set()


def test_a_structural_kinds_only_cause_outranks_a_cause_of_shared_symptoms() -> None:
    """The model seen in eval() mode while training is the diagnosis, though a too-high LR explains
    two symptoms; a symptom of how training went (clamped outputs) does not get that weight."""
    from harness.core.diagnosis import most_likely

    def cause(name: str) -> dict:
        return {"cause": name, "why": "", "verdict": "supports", "evidence": "", "cure": "", "plugin": None}

    lr, eval_mode, clamped = cause("learning rate too high"), cause("eval mode"), cause("outputs clamped")
    diagnosis = [
        {"kind": "loss_oscillation", "runs": 1, "causes": [lr]},
        {"kind": "no_convergence", "runs": 1, "causes": [lr]},
        {"kind": "eval_mode", "runs": 1, "causes": [eval_mode], "structural": True},
    ]
    assert most_likely(diagnosis)[0]["cause"] == "eval mode"
    diagnosis[2] = {"kind": "clamped_outputs", "runs": 1, "causes": [clamped]}  # not structural
    assert most_likely(diagnosis)[0]["cause"] == "learning rate too high"


def test_the_structural_kinds_are_declared_facts_not_symptoms() -> None:
    from harness.core.findings import structural_kinds
    from harness.core.pluginmanager import discover_plugins

    kinds = structural_kinds(discover_plugins())
    assert {"eval_mode", "probability_outputs", "stale_gradients", "data_feature_scale"} <= kinds
    assert not kinds & {"clamped_outputs", "saturation", "loss_explosion", "weight_shrinkage"}
