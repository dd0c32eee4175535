"""Running a scenario from Python (a notebook, a script): the same runs and report as the CLI.

    import harness

    report = harness.run_scenario("scenarios/issue11.yaml", variants=["fixed"], seeds=[0, 1])
    report["passed"], report["variants"]["fixed"]["passed"]

The report is the dict ``harness run --json`` writes (schema: docs/reports.md, "JSON report").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_scenario(
    scenario: str | Path | dict[str, Any],
    *,
    variants: list[str] | None = None,
    seeds: list[int] | None = None,
    jobs: int | None = 1,
    results_dir: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    device: str | None = None,
    timeout: float | None = None,
    resume: bool = False,
    start_method: str | None = None,
) -> dict[str, Any]:
    """Validate and run a scenario; return its JSON report as a dict.

    :param scenario: a YAML file, or the scenario as a dict (the YAML's content).
    :param variants: run only these variants (default: all); :param seeds: these seeds
        (default: the scenario's).
    :param jobs: runs at once, each in its own worker process.
    :param results_dir: where each run's result is written (default ``.harness/<name>``).
    :param overrides: as the CLI's ``--with/--without/--set``: plugin name -> ``True``,
        ``False`` or parameters, and ``"train"`` -> training fields.
    :raises harness.scenario.ScenarioError: the scenario is invalid (nothing ran).
    """
    from harness.execution.runner import default_results_dir, plan_runs, run_suite, suite_report
    from harness.scenario import ScenarioError, load_scenario
    from harness.scenario.loading import DATA_SOURCE

    # a dict is validated exactly as a file is (no temporary file): errors name its fields
    path = Path(scenario) if not isinstance(scenario, dict) else Path(DATA_SOURCE)
    loaded = load_scenario(scenario if isinstance(scenario, dict) else path, plugin_overrides=overrides)
    for name in variants or ():
        if name not in loaded.variants:
            raise ScenarioError(
                path, "variants", f"unknown variant {name!r}; the scenario has {', '.join(loaded.variants)}"
            )
    keys = plan_runs(loaded, list(variants) if variants else None, list(seeds) if seeds else None)
    out_dir = Path(results_dir) if results_dir else default_results_dir(loaded)
    records = run_suite(
        loaded,
        keys,
        results_dir=out_dir,
        jobs=jobs,
        device=device,
        timeout=timeout,
        resume=resume,
        start_method=start_method,
    )
    return suite_report(loaded, records)
