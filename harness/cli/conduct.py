"""What ablate and doctor add to the shared driver: how each plans, runs and judges its arms (run_experiment's conduct)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.cli.driver import BadInput, Outcome, Runner

if TYPE_CHECKING:
    from rich.console import Console

    from harness.execution.records import RunKey
    from harness.experiments.arms import Arm
    from harness.scenario.expectations import PassRate


def _ablation(
    scenario: Any,
    base: str,
    target: str,
    derived: Any,
    arms: list[Arm],
    keys: list[RunKey],
    rule: PassRate | None,
    exhaustive: bool,
) -> Callable[[Runner], Outcome]:
    """ablate's experiment: run every arm (deciding early unless ``exhaustive``), then judge
    which fixes are sufficient and necessary into the report's ``ablation`` section."""
    from harness.execution.records import torch_version
    from harness.experiments.ablation_verdicts import ablation_passed, ablation_section

    def conduct(runner: Runner) -> Outcome:
        records = runner(derived, keys, decide=not exhaustive, rule=rule)

        def judge(report: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
            section = ablation_section(
                scenario,
                base,
                target,
                arms,
                records,
                report["variants"],
                rule,
                early=not exhaustive,
                torch_version=torch_version(),
            )
            return "ablation", section, ablation_passed(records, section)

        return Outcome(derived, records, judge)

    return conduct


def _diagnosis(
    console: Console, scenario: Any, variant: str, seeds: list[int], options: dict[str, Any], *, quiet: bool
) -> Callable[[Runner], Outcome]:
    """doctor's experiment: diagnose ``variant`` (its arms planned and run by
    :func:`harness.experiments.doctor.diagnose`) into the report's ``doctor`` section."""
    from harness.experiments import doctor as doc
    from harness.scenario.expectations import ExpectationSyntaxError

    log = (lambda line: console.print(f"[dim]doctor: {line}[/]")) if not quiet else (lambda line: None)

    def conduct(runner: Runner) -> Outcome:
        try:
            derived, records, section = doc.diagnose(scenario, variant, seeds, runner, log=log, **options)
        except ExpectationSyntaxError as exc:
            raise BadInput(f"--expect: {exc}") from None
        return Outcome(derived, records, lambda report: ("doctor", section, section["best"] is not None))

    return conduct
