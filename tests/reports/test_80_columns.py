"""Every table at 80 columns (a CI log's width): names are never broken mid-word.

Names are variants (ablation arms such as ``broken+variance_penalty``), plugins, scenarios,
outcomes and findings. Each report is rendered with rich's ``Console(width=80, record=True)``
or through the CLI with ``COLUMNS=80``; :func:`assert_whole` checks that every name appears
whole on one line and that no line ends in the start of a name whose rest opens the next.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from harness.cli import main
from harness.reports.run_text import epochs_text
from harness.reports.terminal import fits, print_report

WIDTH = 80
FINDINGS = ("saturation", "mode_collapse", "grad_explosion", "loss_explosion", "no_signal", "grad_vanishing")
FIXES = (
    "scale_matching",
    "distillation",
    "loss_weights",
    "grad_clip",
    "variance_penalty",
    "logit_norm",
    "sgd_nesterov",
    "two_stage",
)


def assert_whole(text: str, names: set[str], width: int = WIDTH) -> None:
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width, text
    for name in names:
        assert any(re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", line) for line in lines), (
            f"{name!r} not whole:\n{text}"
        )
        for k in range(2, len(name) - 1):  # `variance_penal` / `ty`
            head, tail = name[:k], name[k:]
            for line, after in itertools.pairwise(lines):
                broken = line.rstrip().endswith(head) and after.strip().startswith(tail)
                assert not broken or name in line, f"{name!r} broken over two lines:\n{line}\n{after}"


def distillation_like_report(seeds: int = 3) -> dict:
    """The shape of `harness ablate scenarios/student_distillation.yaml`: 18 arms with long names,
    three key metrics with 10-epoch sparklines, six kinds of finding per seed."""
    from harness.execution.records import SCHEMA_VERSION
    from harness.judging.verdicts import suite_passed, summarize_variants

    arms = ["broken", *(f"broken+{f}" for f in FIXES), "fixed", *(f"fixed-{f}" for f in FIXES)]
    runs = []
    for arm in arms:
        broken = arm.startswith("broken")
        for seed in range(seeds):
            history = [
                {
                    "epoch": e,
                    "auc": 0.5 + (0 if broken else 0.05 * e) - 0.01 * seed,
                    "output_std": 10.0**-e if broken else 0.9,
                    "loss": 3.9e5 / e if broken else 0.3 - 0.01 * e,
                    "n": 1000,
                    "lr": 1e-3,
                }
                for e in range(1, 11)
            ]
            findings = (
                [
                    {"kind": k, "epoch": e, "plugin": "monitor", "message": "", "step": e, "value": 0.0}
                    for k in FINDINGS
                    for e in (range(1, 11) if k != "grad_explosion" else [1])
                ]
                if broken
                else []
            )
            runs.append(
                {
                    "variant": arm,
                    "seed": seed,
                    "status": "ok",
                    "seconds": 8.5,
                    "history": history,
                    "findings": findings,
                    "plugins": {"defaults": {}, **{f: {} for f in FIXES if not broken}},
                    "train": {},
                    "expectations": [
                        {"name": "final.auc >= 0.85", "passed": not broken, "observed": history[-1]["auc"]},
                        {"name": "outcome.checkpoint_roundtrip == ok", "passed": True, "observed": "ok"},
                    ],
                    "trace": {},
                    "outcomes": {"checkpoint_roundtrip": "ok"},
                    "lr_per_step": [],
                    "steps": 10,
                }
            )
    key_metrics = ["auc", "output_std", "loss"]
    variants = summarize_variants(runs, key_metrics)
    fixes = [
        {
            "plugin": f,
            "change": "alpha_distill: 0.5 -> 0.3, alpha_task: 0.5 -> 0.7" if f == "loss_weights" else "off -> on",
            "base_plus_fix": {
                "variant": f"broken+{f}",
                "passed_runs": 0,
                "runs": seeds,
                "cured": False,
                "seeds_disagree": False,
            },
            "target_minus_fix": {
                "variant": f"fixed-{f}",
                "passed_runs": seeds,
                "runs": seeds,
                "cured": True,
                "seeds_disagree": False,
            },
            "sufficient": False,
            "necessary": False,
        }
        for f in FIXES
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "harness_version": "0.1.0",
        "torch_version": "2.13.0+cpu",
        "scenario": {
            "name": "student_distillation",
            "path": "scenarios/student_distillation.yaml",
            "workload": "patch_distillation",
            "workload_params": {},
            "key_metrics": key_metrics,
        },
        "seeds": list(range(seeds)),
        "runs": runs,
        "variants": variants,
        "passed": suite_passed(variants),
        "ablation": {
            "base": {"variant": "broken", "passed_runs": 0, "runs": seeds, "cured": False, "seeds_disagree": False},
            "target": {"variant": "fixed", "passed_runs": seeds, "runs": seeds, "cured": True, "seeds_disagree": False},
            "fixes": fixes,
            "warnings": [],
            "rule_text": "every expectation of 'fixed' holds on every seed",
        },
    }


def render(payload: dict, width: int = WIDTH, **options: object) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    print_report(console, payload, **options)
    return console.export_text()


def names_of(report: dict) -> set[str]:
    return {r["variant"] for r in report["runs"]} | set(FINDINGS) | set(FIXES) | {report["scenario"]["name"]}


@pytest.mark.parametrize("width", [WIDTH, 60, 40])
def test_run_report_never_breaks_a_name(width: int) -> None:
    """`harness run` of the distillation scenario piped to a log: the findings no longer squeeze into
    six characters (`satura` / `tion@1`): at 80 columns they move under the seeds table."""
    report = distillation_like_report()
    text = render(report, width)
    assert_whole(text, names_of(report) - ({report["scenario"]["name"]} if width < 60 else set()), width)
    if width == WIDTH:
        assert "saturation@1-10, mode_collapse@1-10, grad_explosion@1," in text  # ranges, on one line
        assert re.search(r"^findings seed 0: saturation@1-10", text, re.MULTILINE)
        assert len(text.splitlines()) < 500  # not 40 lines a seed


def test_ablation_table_at_80_columns_keeps_arm_and_fix_names_whole() -> None:
    report = distillation_like_report(seeds=1)
    text = render(report, details=False)
    assert_whole(text, names_of(report) - set(FINDINGS))  # findings are in the variant blocks (details)
    assert re.search(r"variance_penalty +off -> on +0/1 no +1/1 no", text)  # the table fits: one row per fix
    narrow = render(report, 50, details=False)  # too narrow for the table: one block per fix
    assert_whole(narrow, set(FIXES), 50)
    assert re.search(r"^variance_penalty  off -> on$", narrow, re.MULTILINE)


def test_the_summary_falls_back_to_blocks_when_its_table_cannot_fit() -> None:
    report = distillation_like_report(seeds=2)
    for arm in list(report["variants"]):  # a name too long for any table at 80 columns
        report["variants"][arm + "_with_a_rather_long_suffix_0123456789"] = report["variants"].pop(arm)
    for run in report["runs"]:
        run["variant"] += "_with_a_rather_long_suffix_0123456789"
    text = render(report, details=False)
    assert_whole(text, {r["variant"] for r in report["runs"]})
    # an ablation arm is judged by the target's expectations (a cure): "cured" or "not cured"
    assert re.search(
        r"^broken\+variance_penalty_with_a_rather_long_suffix_0123456789  (2/2 PASS cured|0/2 FAIL not cured)$",
        text,
        re.MULTILINE,
    )


def test_plugins_list_at_80_columns() -> None:
    """`COLUMNS=80 harness plugins | grep -c variance_penalty` is 1: one block per plugin."""
    result = CliRunner().invoke(main, ["plugins"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    listed = json.loads(CliRunner().invoke(main, ["plugins", "--json"]).output)
    names = {p["name"] for p in listed} | {p["source"].split()[0] for p in listed}
    assert_whole(result.output, names)
    assert sum("variance_penalty" in line for line in result.output.splitlines()) == 1
    for plugin in listed:  # each block starts with the name, kind and source on one line
        assert re.search(
            rf"^{re.escape(plugin['name'])}  {plugin['kind']}, .*{re.escape(plugin['source'])}$",
            result.output,
            re.MULTILINE,
        ), plugin["name"]


def test_compare_at_80_columns_keeps_scenario_variant_and_outcome_names_whole(tmp_path: Path) -> None:
    def report(version: str, value: str) -> dict:
        run = {
            "variant": "broken_roundtrip_variant",
            "seed": 0,
            "status": "ok",
            "history": [],
            "outcomes": {
                "checkpoint_roundtrip": value,
                "checkpoint_load_warning": "FutureWarning" if value == "ok" else None,
            },
            "expectations": [{"name": f"outcome.checkpoint_roundtrip == {value}", "passed": True, "when": ">=2.6"}],
        }
        return {
            "schema_version": 1,
            "torch_version": version,
            "scenario": {"name": "checkpoint_compat_scenario"},
            "runs": [run],
        }

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report("2.5.1", "ok")))
    b.write_text(json.dumps(report("2.6.0", "fails")))
    for width in (WIDTH, 50):
        result = CliRunner().invoke(main, ["compare", str(a), str(b)], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        assert_whole(
            result.output,
            {
                "checkpoint_compat_scenario",
                "broken_roundtrip_variant",
                "checkpoint_roundtrip",
                "checkpoint_load_warning",
                "outcome.checkpoint_roundtrip",
                "FutureWarning",
            },
            width,
        )
        if width == WIDTH:
            assert "checkpoint_compat_scenario · broken_roundtrip_variant · seed 0" in result.output.splitlines()
            assert re.search(r"^  outcome checkpoint_roundtrip +ok +fails *$", result.output, re.MULTILINE)
        else:  # too narrow for the table: each difference, then its value in each file
            assert "  outcome checkpoint_roundtrip\n    torch 2.5.1: ok\n    torch 2.6.0: fails" in result.output


def test_fits_says_whether_a_table_keeps_every_word_whole() -> None:
    table = Table()
    table.add_column("name", overflow="fold")
    table.add_column("value", no_wrap=True)
    table.add_row("variance_penalty", "x" * 50)
    assert fits(Console(width=80), table)
    assert not fits(Console(width=60), table)  # the name column would fold mid-word


def test_finding_epochs_are_ranges() -> None:
    assert epochs_text([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == "1-10"
    assert epochs_text([1]) == "1" and epochs_text([9, 10]) == "9,10" and epochs_text([1, 3, 4, 5, 8]) == "1,3-5,8"
    assert epochs_text([2, 2, 1]) == "1,2"
