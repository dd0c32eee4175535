"""harness run / ablate / doctor: plan arms, run them through the shared driver, judge, report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.conduct import _ablation, _diagnosis
from harness.cli.driver import (
    BadInput,
    Outcome,
    _check_environment,
    _check_executor,
    _check_start_method,
    _check_variant,
    _finish,
    _load,
    _pass_rate,
    _results_dir,
    _scenarios_to_run,
    _seed_list,
    run_experiment,
)
from harness.cli.options import Execution, PluginFlags, run_options
from harness.reports.outcomes import ablate_next_steps, doctor_next_steps

if TYPE_CHECKING:
    from harness.experiments.arms import Arm


@click.command()
@click.argument("scenario_path", metavar="SCENARIO|DIR", type=click.Path(path_type=Path))
@click.option(
    "--variant",
    "-v",
    "variants",
    multiple=True,
    metavar="NAME",
    help="Run only this variant (repeatable; with DIR, in each scenario that has it). Default: all.",
)
@run_options(
    seeds_help="Run every variant with seeds 0..N-1; verdicts use the expectations' pass rates over them.",
    results_help="Where each run's result and checkpoints are written. Default: .harness/<scenario name> "
    "(with DIR: DIR_GIVEN/<scenario name>).",
    jobs_help="Runs in parallel, each in its own worker process. Default: number of CPU cores.",
    timeout_help="Per-run limit in seconds; a run past it ends with status 'timeout'.",
    before_quiet=[
        click.option(
            "--decide-early",
            is_flag=True,
            help="Stop a run at the end of the epoch where its variant's verdict is decided, and skip a variant's "
            "remaining seeds once it is (as harness ablate does). Default: every run trains to its end.",
        )
    ],
    quiet_help="No progress bars; print only the table.",
)
def run(
    scenario_path: Path,
    variants: tuple[str, ...],
    seeds: tuple[int, ...],
    n_seeds: int | None,
    report_targets: dict[str, Path | str | None],
    decide_early: bool,
    execution: Execution,
    plugin_flags: PluginFlags,
) -> None:
    """Run SCENARIO's variants and check their expectations; with a directory, every scenario in it.

    DIR: each *.yaml/*.yml file directly in it that is a scenario (a mapping with workload
    or variants; other YAML files are skipped with a note), validated all before any run,
    run one after the other, with one summary and one exit code (0 only when every scenario
    passes); --json then writes {"reports": [...], "passed"} as `pytest --harness-json` does.
    Exit 130 on Ctrl-C: the finished runs are kept (rerun with --resume), the unfinished
    runs' partial files are removed.

    \b
    harness run S --variant fixed --without class_weights   # a variant derived ad hoc
    harness run S --set grad_clip.max_norm=0.5 --with mixed_precision
    harness run S --seeds 5 -j 2 --html r.html --junit r.xml
    harness run scenarios/ -q --json all.json               # every scenario, one summary
    """
    from rich.markup import escape

    from harness.cli.console import terminal
    from harness.execution.records import SCHEMA_VERSION
    from harness.execution.runner import plan_runs

    console = terminal()
    directory = scenario_path.is_dir()
    scenarios = _scenarios_to_run(scenario_path, directory, variants, plugin_flags)
    _check_executor(execution)
    _check_environment()
    reports = []
    for scenario in scenarios:
        keys = plan_runs(
            scenario,
            [v for v in variants if v in scenario.variants] or None,
            _seed_list(seeds, n_seeds, scenario.seeds),
        )
        out_dir = _results_dir(execution.results_dir, scenario, directory)
        if directory and not execution.quiet:
            console.print(f"[bold]{escape(scenario.name)}[/] [dim]{escape(str(scenario.path))}[/]", highlight=False)
        conduct = lambda runner, s=scenario, k=keys: Outcome(s, runner(s, k, decide=decide_early))  # noqa: E731
        reports.append(run_experiment(console, scenario, execution, out_dir, conduct))
    if directory:  # one payload for every scenario, as `pytest --harness-json` writes
        report = {"schema_version": SCHEMA_VERSION, "reports": reports, "passed": all(r["passed"] for r in reports)}
        steps: list[str] = []
    else:
        from harness.reports.outcomes import next_steps

        report = reports[0]
        steps = next_steps(report, str(scenario_path))
    _finish(console, report, report_targets, next_steps=steps, overrides=plugin_flags.given(seeds, n_seeds))


def _ablation_arms(scenario_path: Path, scenario: Any, base: str, target: str, out_dir: Path) -> tuple[Any, list[Arm]]:
    """The ablation's scenario and arms (:func:`harness.experiments.ablation.ablation_scenario`; the
    diffs of hunk arms in ``out_dir``/hunks), or bad input when an arm could not run, the programs'
    diff cannot be had, or base and target have the same plugins (and program)."""
    from harness.core.pluginmanager import PluginConflictError
    from harness.experiments.ablation import ablation_scenario
    from harness.experiments.ablation_hunks import HunkError

    try:
        derived, arms = ablation_scenario(scenario, base, target, out_dir / "hunks")
    except (PluginConflictError, HunkError) as exc:
        raise BadInput(f"{scenario_path}: {exc}") from None
    if not any(a.role == "base+fix" for a in arms):
        raise BadInput(
            f"{scenario_path}: variants {base!r} and {target!r} have the same plugins and program: nothing to ablate"
        )
    return derived, arms


@click.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base", default="broken", show_default=True, metavar="VARIANT", help="The variant with the incident.")
@click.option(
    "--target",
    default="fixed",
    show_default=True,
    metavar="VARIANT",
    help="The variant with the cure; its expectations decide 'cured'.",
)
@run_options(
    before_reports=[
        click.option(
            "--pass-rate",
            "pass_rate",
            metavar="RATE",
            help="Cured = this share of seeds passes every target expectation, e.g. '>= 0.8'. "
            "Default: each target expectation's own pass_rate (every seed when it has none).",
        )
    ],
    results_help="Where each run's result is written. Default: .harness/<scenario name>/ablation.",
    before_quiet=[
        click.option(
            "--exhaustive",
            is_flag=True,
            help="Train every run of every arm to its end. Default: decide early: a run stops at the end of the epoch "
            "where its arm's verdict is decided, and an arm's remaining seeds are skipped once it is.",
        )
    ],
)
def ablate(
    scenario_path: Path,
    base: str,
    target: str,
    seeds: tuple[int, ...],
    n_seeds: int | None,
    pass_rate: str | None,
    report_targets: dict[str, Path | str | None],
    exhaustive: bool,
    execution: Execution,
    plugin_flags: PluginFlags,
) -> None:
    """Which fixes matter? Ablate every slot whose plugin differs between --base and --target.

    A fix is one plugin set differently, or one slot whose occupant changes (plugins that
    answer the same firstresult hook or replace each other, e.g. make_criterion:
    sample_weighted_loss -> class_weights); for two script variants whose programs differ by a
    patch or by git refs, one hunk of that diff (FILE:LINE). Runs the base, the base plus each single fix
    (set as in the target), the target, and the target minus each single fix (set as in
    the base), all with the same seeds, judges every arm by the target's expectations, and
    prints per fix whether it is sufficient alone (base + fix is cured) and necessary
    (target - fix is not); a verdict is n/a when the arm's trace shows the plugin it
    switched on never acted. Runs stop as soon as their arm's verdict is decided and an arm's
    remaining seeds are skipped then (--exhaustive: train everything). Exit 0 when every run
    finished and the target is cured, 1
    otherwise, 2 bad input, 130 interrupted (Ctrl-C). SCENARIO is one file: unlike
    `harness run`, ablate does not take a directory.

    \b
    harness ablate scenarios/issue11.yaml --seeds 3 -j 2 --json ablation.json
    """
    from harness.cli.console import terminal
    from harness.execution.runner import default_results_dir, plan_runs

    console = terminal()
    scenario = _load(scenario_path, plugin_flags)
    _check_start_method()
    for option, name in (("--base", base), ("--target", target)):
        _check_variant(scenario, scenario_path, option, name)
    if base == target:
        raise BadInput("--base and --target name the same variant")
    rule = _pass_rate(pass_rate)
    seed_list = _seed_list(seeds, n_seeds, scenario.seeds)
    _check_executor(execution)
    out_dir = execution.results_dir or default_results_dir(scenario) / "ablation"
    derived, arms = _ablation_arms(scenario_path, scenario, base, target, out_dir)
    keys = plan_runs(derived, None, seed_list)
    _check_environment()

    conduct = _ablation(scenario, base, target, derived, arms, keys, rule, exhaustive)
    report = run_experiment(console, scenario, execution, out_dir, conduct)
    _finish(
        console,
        report,
        report_targets,
        details=False,
        next_steps=ablate_next_steps(report, str(scenario_path), base),
        overrides=plugin_flags.given(seeds, n_seeds),
    )


@click.command()
@click.argument("target", nargs=-1, required=True, type=click.UNPROCESSED, metavar="SCENARIO | -- COMMAND...")
@click.option(
    "--variant",
    "-v",
    default="broken",
    show_default=True,
    metavar="NAME",
    help="The variant to diagnose (the incident). A COMMAND's only variant is broken: the program as written.",
)
@click.option(
    "--metric",
    "metric_items",
    multiple=True,
    metavar="NAME=REGEX",
    help="With a COMMAND: a number the program prints, judged as its main metric (the first given), "
    "e.g. --metric 'val_acc=val_acc ([\\d.]+)'. Default: the validation loss the watcher sees.",
)
@click.option(
    "--save-scenario",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.yaml",
    help="With a COMMAND: write the incident as a scenario to keep, broken (as written) and fixed (the proven "
    "cure), for harness run or pytest.",
)
@run_options(
    seeds_help="Run every arm with seeds 0..N-1. Default: the scenario's seeds when it lists 3 or more, else 0..2.",
    before_reports=[
        click.option(
            "--expect",
            "expect",
            multiple=True,
            metavar="LINE",
            help="The cure criterion, one expectation line each (repeatable), e.g. --expect 'final.f1 >= 0.8'. Default: "
            "no finding of the kinds the variant showed, the main metric at least as good as plain training's, status ok.",
        ),
        click.option(
            "--pass-rate",
            "pass_rate",
            metavar="RATE",
            help="Cured = this share of seeds passes the criterion, e.g. '>= 0.8'. Default: every seed.",
        ),
        click.option(
            "--tolerance",
            type=click.FloatRange(min=0),
            default=0.05,
            show_default=True,
            help="How far (relative) below the reference's mean metric a cure may stay (about the seed-to-seed spread).",
        ),
        click.option(
            "--max-candidates",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Single fixes tried at most.",
        ),
        click.option(
            "--max-combination",
            type=click.IntRange(min=1),
            default=2,
            show_default=True,
            help="Fixes per combination when no single fix cures (1: no combinations).",
        ),
        click.option(
            "--top",
            type=click.IntRange(min=2),
            default=4,
            show_default=True,
            help="Combinations are of the top N candidates.",
        ),
        click.option(
            "--verbose",
            is_flag=True,
            help="Print the table of every arm (change, seeds, verdict, kinds left) and the summary of every run "
            "too. Default: one line per arm.",
        ),
    ],
    results_help="Where each run's result is written. Default: .harness/<scenario name>/doctor.",
    address_help="With --executor ray: the Ray cluster (auto, HOST:6379, ray://HOST:10001).",
)
def doctor(
    target: tuple[str, ...],
    variant: str,
    metric_items: tuple[str, ...],
    save_scenario: Path | None,
    seeds: tuple[int, ...],
    n_seeds: int | None,
    expect: tuple[str, ...],
    pass_rate: str | None,
    tolerance: float,
    max_candidates: int,
    max_combination: int,
    top: int,
    verbose: bool,
    report_targets: dict[str, Path | str | None],
    execution: Execution,
    plugin_flags: PluginFlags,
) -> None:
    """Diagnose a broken variant or program and prove a fix: findings -> candidate fixes -> cure.

    Runs --variant and a reference (the variant without its bug plugins; else plain training at
    the LR an LR range test suggests), then the fixes that address the findings (for LR-type
    ones, lr_scale at the range test's factor): each single one, then combinations of the top
    ones, cut to the parts they need. Cured = every seed (or --pass-rate) has none of the
    variant's kinds nor one the reference lacks, the main metric at the reference's
    (--tolerance), status ok; or the --expect lines. With `-- python train.py ARGS`, the program
    runs unmodified under the watcher, the arms are the fixes the watcher applies to it, and the
    cure comes back as the edit at the line of your code. Exit 0 a fix proven, 1 none, 2 bad input, 130 interrupted.

    \b
    harness doctor scenarios/issue11.yaml --variant broken -j 2 --json doctor.json
    harness doctor scenarios/bugs/foreign_optimizer.yaml --seeds 3 --expect 'final.accuracy >= 0.9'
    harness doctor --save-scenario incident.yaml -- python train.py --epochs 5
    """
    from harness.cli.console import terminal
    from harness.cli.doctor_program import doctor_steps, doctor_target
    from harness.execution.runner import default_results_dir
    from harness.experiments.doctor import default_seeds

    console = terminal()
    program, scenario_path = doctor_target(target, metric_items, save_scenario, execution.results_dir)
    scenario = _load(scenario_path, plugin_flags)
    _check_start_method()
    _check_variant(scenario, scenario_path, "--variant", variant)
    seed_list = _seed_list(seeds, n_seeds, default_seeds(scenario.seeds))
    _check_executor(execution)
    out_dir = execution.results_dir or default_results_dir(scenario) / "doctor"
    _check_environment()
    options = dict(expect=list(expect), rule=_pass_rate(pass_rate), tolerance=tolerance, max_candidates=max_candidates)
    options.update(max_combination=max_combination, top=top)
    conduct = _diagnosis(console, scenario, variant, seed_list, options, quiet=execution.quiet)
    report = run_experiment(console, scenario, execution, out_dir, conduct)
    steps = doctor_steps(report, program, target, metric_items, save_scenario)
    steps = steps or doctor_next_steps(report, str(scenario_path), variant)
    overrides = plugin_flags.given(seeds, n_seeds)
    _finish(console, report, report_targets, details=False, next_steps=steps, overrides=overrides, verbose=verbose)
