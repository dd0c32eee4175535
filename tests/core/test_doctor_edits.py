"""The doctor's cure handed back as an edit at the program's line (harness.experiments.doctor_edits)."""

from __future__ import annotations

from typing import Any

from harness.core.pluginmanager import discover_plugins
from harness.experiments.doctor_edits import edits, first_site, script_lr
from harness.reports.doctor import edit_lines, short_path

OPTIMIZER_LINE = "optimizer = torch.optim.SGD(model.parameters(), lr=8.0)"


def record(**extra: Any) -> dict[str, Any]:
    findings = [
        {"kind": "loss_oscillation", "epoch": 2, "step": 40, "where": "train.py:30", "source": "optimizer.step()"},
        {"kind": "loss_explosion", "epoch": 1, "step": 3, "where": "train.py:19", "source": OPTIMIZER_LINE},
        {"kind": "nan", "epoch": 1, "step": 5},
    ]
    base = {"variant": "broken", "findings": findings, "train": {"cwd": "/home/me/project"}}
    return base | {"lr_per_step": [0.8, 8.0, 8.0]} | extra


def test_a_proven_lr_scale_is_the_lr_to_set_at_the_line_that_sets_it() -> None:
    section = {
        "observed": {"loss_explosion": 3, "loss_oscillation": 3},
        "lr_range": {"current_lr": 8.0},
        "best": {
            "plugins": {"lr_scale": {"factor": 0.00125}},
            "passed_runs": 3,
            "runs": 3,
            "description": "broken + lr_scale(factor=0.00125)",
            "name": "lr_scale(factor=0.00125)",
        },
    }
    (edit,) = edits(section, [record()], discover_plugins())
    assert edit["where"] == "/home/me/project/train.py:19"  # the optimizer's line, not the step's
    assert edit["source"] == OPTIMIZER_LINE
    assert edit["edit"].startswith("lr=8 -> lr=0.01") and edit["proven"]
    assert edit["why"] == "proven on 3/3 seeds: lr_scale(factor=0.00125)"


def test_without_a_range_test_the_scripts_lr_is_its_peak_step_lr() -> None:
    assert script_lr({}, [record()]) == 8.0  # a warmup's first step (0.8) is not what the script set
    assert script_lr({"lr_range": {"current_lr": 3.0}}, [record()]) == 3.0
    assert script_lr({}, [record(lr_per_step=[])]) is None


def test_no_cure_proven_gives_the_most_likely_causes_cure_at_its_finding_marked_not_proven() -> None:
    section = {
        "observed": {"probability_outputs": 3},
        "candidates": [],
        "diagnosis": [
            {
                "kind": "probability_outputs",
                "runs": 3,
                "causes": [
                    {
                        "cause": "softmax before the loss",
                        "why": "",
                        "verdict": "supports",
                        "evidence": "",
                        "cure": "return the logits",
                        "plugin": None,
                    }
                ],
            }
        ],
    }
    rec = record(findings=[{"kind": "probability_outputs", "epoch": 1, "where": "m.py:7", "source": "nn.Softmax(1)"}])
    (edit,) = edits(section, [rec], discover_plugins())
    assert edit == {
        "where": "/home/me/project/m.py:7",
        "source": "nn.Softmax(1)",
        "edit": "return the logits",
        "proven": False,
        "why": "the most likely cause: softmax before the loss (no fix tried)",
    }


def test_the_earliest_finding_with_a_line_and_paths_shown_relative_to_here() -> None:
    assert first_site([record()], ["nan"]) is None  # no line known
    site = first_site([record()], ["loss_oscillation", "loss_explosion"])
    assert site is not None and site["where"].endswith("train.py:30")  # kinds in the order given
    assert short_path("/home/me/project/train.py:19", "/home/me/project") == "train.py:19"
    assert short_path("/elsewhere/train.py:19", "/home/me/project") == "/elsewhere/train.py:19"
    lines = edit_lines([{"where": None, "source": None, "edit": "x", "why": "y"}])
    assert lines == ["(no line known): x", "    y"]


def test_every_fix_acting_on_scripts_says_its_edit_at_a_declared_site() -> None:
    from typing import get_args

    from harness.core.findings import Site

    available = discover_plugins()
    for name, info in available.items():
        if info.kind == "fix" and info.cls.acts_on_scripts:
            plugin = info.cls(info.cls.Params())
            assert plugin.script_edit(0.1), name  # a sentence a person can apply
            assert info.cls.script_edit_site in (*get_args(Site), None), name
