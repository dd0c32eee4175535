"""The ``harness`` command line.

Exit codes: 0 every expectation held, 1 an expectation failed or a run errored,
2 bad input (a malformed scenario, an unknown variant or plugin). Heavy modules
(torch, transformers) are imported only inside the commands that train.

The commands only check their input, call the logic (:mod:`harness.execution.runner`,
:mod:`harness.experiments.ablation`, :mod:`harness.experiments.doctor`) and print; the options they share are
declared once in :mod:`harness.cli.options`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.driver import EXIT_FAILED, EXIT_OK, BadInput, _exit, _write_reports
from harness.cli.examples import example
from harness.cli.experiments import ablate, doctor, run
from harness.cli.listings import plugins, workloads
from harness.cli.options import report_options
from harness.cli.watch import watch_command
from harness.core.version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")  # the distribution is training-harness
def main() -> None:
    """Replay training incidents as scenarios and prove which fix cures them.

    \b
    harness run scenarios/issue11.yaml                 # broken vs fixed, A/B report
    harness run scenarios/issue11.yaml --variant fixed # one variant
    harness ablate scenarios/issue11.yaml --seeds 3    # which fixes matter
    harness report results.json --html report.html     # re-render without retraining
    harness plugins                                    # every fix and monitor
    harness workloads                                  # every named workload
    harness watch -- python train.py                   # watch your own script
    harness example --to DIR                           # the shipped scenarios, into DIR/scenarios/
    """


for command in (run, ablate, doctor, plugins, workloads, watch_command, example):
    main.add_command(command)


@main.command()
@click.argument("results", metavar="RESULTS.json", type=click.Path(dir_okay=False, path_type=Path))
@report_options
@click.option("--quiet", "-q", is_flag=True, help="Do not print the terminal report.")
def report(results: Path, report_targets: dict[str, Path | str | None], quiet: bool) -> None:
    """Re-render a saved JSON report (of `harness run`/`ablate --json` or `pytest --harness-json`)
    as the terminal table, HTML, JUnit or JSON, without retraining.

    \b
    harness report results.json --html report.html --junit report.xml
    """
    from harness.cli.console import terminal
    from harness.judging.compare import ReportError, load_report
    from harness.reports.terminal import print_report

    try:
        payload = load_report(results)
        if not quiet:
            print_report(terminal(), payload)
        unwritten = _write_reports(payload, report_targets)
    except ReportError as exc:
        raise BadInput(str(exc)) from None
    except (KeyError, TypeError) as exc:
        raise BadInput(f"{results}: not a complete harness report (missing {exc})") from None
    if unwritten:
        _exit(True, unwritten)


@main.command()
@click.argument("report_a", metavar="A.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("report_b", metavar="B.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--exit-code", is_flag=True, help="Exit 1 when the reports differ (as `git diff --exit-code`).")
def compare(report_a: Path, report_b: Path, exit_code: bool) -> None:
    """Show which statuses, outcomes and expectation results differ between two JSON reports.

    A report is what `harness run --json` or `pytest scenarios/ --harness-json` wrote;
    runs are paired by scenario, variant and seed. Metric values are not compared.

    \b
    harness compare torch25.json torch26.json   # the same scenarios under two PyTorch versions
    """
    from rich.markup import escape

    from harness.cli.console import terminal
    from harness.judging.compare import (
        ReportError,
        column_labels,
        compare_reports,
        load_report,
        scenario_reports,
        torch_version_of,
    )

    try:
        a, b = load_report(report_a), load_report(report_b)
    except ReportError as exc:
        raise BadInput(str(exc)) from None
    console = terminal()
    label_a, label_b = column_labels(a, b)
    for label, path, payload in ((label_a, report_a, a), (label_b, report_b, b)):
        names = ", ".join(scenario_reports(payload))
        version = torch_version_of(payload) or "?"
        console.print(escape(f"{label}: {path}  (scenario {names}, torch {version})"), highlight=False)
    only = set(scenario_reports(a)) ^ set(scenario_reports(b))
    if only:
        console.print(f"[yellow]warning: scenarios in only one of the files: {escape(', '.join(sorted(only)))}[/]")
    differences, total = compare_reports(a, b)
    if not differences:
        console.print(f"no differences in status, outcomes or expectations ({total} run(s))")
        return
    from harness.reports.terminal_ablation import differences_section

    console.print(differences_section(console, differences, label_a, label_b))
    runs = len({(d.scenario, d.variant, d.seed) for d in differences})
    console.print(f"{runs} of {total} run(s) differ")
    sys.exit(EXIT_FAILED if exit_code else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
